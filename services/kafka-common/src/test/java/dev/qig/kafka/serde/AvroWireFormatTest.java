package dev.qig.kafka.serde;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistryException;
import dev.qig.schemas.CalibrationSample;
import dev.qig.schemas.EngineSettings;
import dev.qig.schemas.GroupChoice;
import dev.qig.schemas.GroupErrors;
import dev.qig.schemas.GroupStatistics;
import dev.qig.schemas.LayerStats;
import dev.qig.schemas.PartialsKind;
import dev.qig.schemas.QuantConfig;

/** The bytes the serializer writes, and round trips of every generated record type. */
class AvroWireFormatTest {

    private static final String TOPIC = "qig.calibration-samples.v1";

    private final String scope = "wire-" + UUID.randomUUID();
    private final MockSchemaRegistry registry = MockSchemaRegistry.scope(scope);

    @AfterEach
    void drop() {
        MockSchemaRegistry.drop(scope);
    }

    static CalibrationSample sample() {
        return CalibrationSample.newBuilder()
                .setSampleId("s-1")
                .setImage(ByteBuffer.wrap(new byte[] {(byte) 0x89, 'P', 'N', 'G', 0, -1, 42}))
                .setImageUri(null)
                .setPrompt("what color is the <image> circle")
                .setAnswer("red")
                .setDomain("clean")
                .setSource("test")
                .setEventTime(Instant.ofEpochMilli(1_760_000_000_123L))
                .setModel(null)
                .build();
    }

    private static EngineSettings settings() {
        return EngineSettings.newBuilder().setBehaviour("paper").setIgSteps(32).setIqrClip(true)
                .setCodeFaithfulCounterBug(false).setMethods(List.of("rtn", "qig")).build();
    }

    @Test
    void bytesAreMagicZeroTheRegisteredIdAndPlainAvro() throws Exception {
        registry.register("unrelated-value", GroupChoice.getClassSchema()); // so the id is not trivially 1
        CalibrationSample sample = sample();

        byte[] bytes = new AvroSerializer<CalibrationSample>(registry).serialize(TOPIC, sample);

        int id = registry.idOf(TOPIC + "-value", CalibrationSample.getClassSchema());
        assertEquals(2, id);
        assertEquals(0, bytes[0]);
        assertEquals(id, ByteBuffer.wrap(bytes, 1, 4).getInt());
        BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(bytes, 5, bytes.length - 5, null);
        GenericRecord plain = new GenericDatumReader<GenericRecord>(CalibrationSample.getClassSchema()).read(null, decoder);
        assertTrue(decoder.isEnd(), "no container header or trailer around the body");
        assertEquals("s-1", plain.get("sampleId").toString());
        assertEquals(ByteBuffer.wrap(new byte[] {(byte) 0x89, 'P', 'N', 'G', 0, -1, 42}), plain.get("image"));
        assertNull(plain.get("imageUri"));
        assertEquals("red", plain.get("answer").toString());
        assertEquals(1_760_000_000_123L, plain.get("eventTime"));
        assertNull(plain.get("model"));
    }

    @Test
    void calibrationSampleRoundTripsWithImageBytesAndNullUnion() {
        assertRoundTrip(CalibrationSample.class, sample());
        CalibrationSample byUri = CalibrationSample.newBuilder(sample()).setImage(null).setImageUri("file:/tmp/x.png")
                .setModel("sha256:abc").build();
        assertRoundTrip(CalibrationSample.class, byUri);
    }

    @Test
    void layerStatsRoundTripsWithNestedArrays() {
        LayerStats stats = LayerStats.newBuilder()
                .setSampleId("s-1").setModel("sha256:abc").setScheme("w3a16").setSettings(settings()).setPlanVersion(3)
                .setKind(PartialsKind.SEARCH)
                .setStatistics(List.of(
                        GroupStatistics.newBuilder().setLayer(0).setGroup("qkv").setAbsSum(List.of(1.5, 0.0, -2.25))
                                .setTokens(17).setGradVisionSum(0.1).setGradVisionCount(16).setGradAnswerSum(0.2)
                                .setGradAnswerCount(1).build(),
                        GroupStatistics.newBuilder().setLayer(3).setGroup("down").setAbsSum(List.of())
                                .setTokens(0).setGradVisionSum(0).setGradVisionCount(0).setGradAnswerSum(0)
                                .setGradAnswerCount(0).build()))
                .setErrors(List.of(GroupErrors.newBuilder().setLayer(1).setGroup("o")
                        .setEAll(List.of(1.0, 2.0)).setEAnswer(List.of(0.5)).setEVision(List.of()).setEQig(List.of(Double.MAX_VALUE))
                        .setNAll(20).setNAnswer(2).setNVision(16).setLambdaSum(1.25).build()))
                .setDomain("lowlight").setEventTime(Instant.ofEpochMilli(5)).setAttributor("attributor-0")
                .build();
        assertRoundTrip(LayerStats.class, stats);
    }

    @Test
    void quantConfigRoundTripsWithAMap() {
        QuantConfig config = QuantConfig.newBuilder()
                .setConfigId("m/w3a16/qig/v2").setModel("sha256:abc").setScheme("w3a16").setWeightBits(3).setGroupSize(128)
                .setSymmetric(false).setActivationBits(16).setMethod("qig").setVersion(2).setRound(2).setPlanVersion(1)
                .setSamples(256).setSettings(settings())
                .setGroups(List.of(GroupChoice.newBuilder().setLayer(0).setGroup("qkv").setAlpha(0.35)
                        .setScales(List.of(1.0f, 0.5f, 2.0f)).setLoss(0.01).setLossAtZero(0.02).build()))
                .setProvenance(Map.of("driver", "count", "domains", "clean,qmix"))
                .setCreatedAt(Instant.ofEpochMilli(1_760_000_000_000L))
                .build();
        assertRoundTrip(QuantConfig.class, config);
    }

    @Test
    void everyGeneratedRecordClassRoundTrips() throws Exception {
        List<Class<? extends SpecificRecord>> classes = RandomRecords.recordClasses();
        assertTrue(classes.containsAll(List.of(CalibrationSample.class, LayerStats.class, QuantConfig.class)), classes.toString());
        Random random = new Random(7);
        for (Class<? extends SpecificRecord> type : classes) {
            for (int i = 0; i < 5; i++) {
                assertRoundTrip(type, RandomRecords.of(type, random));
            }
        }
    }

    private <T extends SpecificRecord> void assertRoundTrip(Class<T> type, SpecificRecord record) {
        String topic = "topic-" + type.getSimpleName();
        byte[] bytes = new AvroSerializer<T>(registry).serialize(topic, type.cast(record));
        T back = new AvroDeserializer<>(registry, type).deserialize(topic, bytes);
        assertEquals(record, back, type.getSimpleName());
    }

    @Test
    void nullStaysNull() {
        assertNull(new AvroSerializer<CalibrationSample>(registry).serialize(TOPIC, null));
        assertNull(new AvroDeserializer<>(registry, CalibrationSample.class).deserialize(TOPIC, null));
    }

    @Test
    void keysGoUnderTheKeySubject() {
        new AvroSerializer<CalibrationSample>(registry, true, true).serialize(TOPIC, sample());
        assertEquals(1, registry.idOf(TOPIC + "-key", CalibrationSample.getClassSchema()));
        assertThrows(SchemaRegistryException.class, () -> registry.idOf(TOPIC + "-value", CalibrationSample.getClassSchema()));
    }

    @Test
    void withoutAutoRegisterTheSchemaMustAlreadyBeRegistered() {
        AvroSerializer<CalibrationSample> serializer = new AvroSerializer<>(registry, false, false);
        SerializationException e = assertThrows(SerializationException.class, () -> serializer.serialize(TOPIC, sample()));
        assertTrue(e.getMessage().contains("subject " + TOPIC + "-value"), e.getMessage());

        int id = registry.register(TOPIC + "-value", CalibrationSample.getClassSchema());
        assertEquals(id, ByteBuffer.wrap(serializer.serialize(TOPIC, sample()), 1, 4).getInt());
    }

    @Test
    void kafkaConfigPathBuildsTheSerdeFromItsKeys() {
        AvroSerde<CalibrationSample> serde = new AvroSerde<>();
        serde.configure(Map.of("schema.registry.url", "mock://" + scope,
                AvroSerdeConfig.SPECIFIC_AVRO_VALUE_TYPE, CalibrationSample.class.getName()), false);
        byte[] bytes = serde.serializer().serialize(TOPIC, sample());
        assertEquals(sample(), serde.deserializer().deserialize(TOPIC, bytes));
        assertEquals(registry.idOf(TOPIC + "-value", CalibrationSample.getClassSchema()), ByteBuffer.wrap(bytes, 1, 4).getInt());

        AvroDeserializer<CalibrationSample> untyped = new AvroDeserializer<>();
        ConfigException e = assertThrows(ConfigException.class,
                () -> untyped.configure(Map.of("schema.registry.url", "mock://" + scope), false));
        assertTrue(e.getMessage().contains(AvroSerdeConfig.SPECIFIC_AVRO_VALUE_TYPE), e.getMessage());
        assertThrows(ConfigException.class, () -> new AvroSerializer<>().configure(Map.of(), false));
    }

    @Test
    void oneSerializerIsSharedSafelyByThreads() throws Exception {
        AvroSerializer<CalibrationSample> serializer = new AvroSerializer<>(registry);
        AvroDeserializer<CalibrationSample> deserializer = new AvroDeserializer<>(registry, CalibrationSample.class);
        ExecutorService pool = Executors.newFixedThreadPool(6);
        try {
            List<Callable<Boolean>> tasks = new ArrayList<>();
            for (int t = 0; t < 6; t++) {
                int thread = t;
                tasks.add(() -> {
                    for (int i = 0; i < 200; i++) {
                        CalibrationSample sample = CalibrationSample.newBuilder(sample()).setSampleId(thread + "-" + i)
                                .setImage(ByteBuffer.wrap((thread + "/" + i).getBytes(StandardCharsets.UTF_8))).build();
                        if (!sample.equals(deserializer.deserialize(TOPIC, serializer.serialize(TOPIC, sample)))) {
                            return false;
                        }
                    }
                    return true;
                });
            }
            for (Future<Boolean> result : pool.invokeAll(tasks)) {
                assertTrue(result.get());
            }
        } finally {
            pool.shutdownNow();
        }
        byte[] once = serializer.serialize(TOPIC, sample());
        assertArrayEquals(once, serializer.serialize(TOPIC, sample()));
    }
}
