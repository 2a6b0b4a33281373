package dev.qig.evaluator.internals;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.EqualizationGroup;
import dev.qig.quant.GroupKey;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.quant.QuantScheme;
import dev.qig.kafka.dlq.RejectReason;
import dev.qig.kafka.dlq.RejectedRecordException;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerializer;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Every way a config record can be unusable maps to its dead-letter reason; a good one decodes. */
class ConfigDecoderTest {

    private static final String TOPIC = "configs";
    private final String scope = "decoder-" + UUID.randomUUID();
    private final AvroSerializer<dev.qig.schemas.QuantConfig> serializer = new AvroSerializer<>(MockSchemaRegistry.scope(scope));
    private final ConfigDecoder decoder = new ConfigDecoder(new AvroDeserializer<>(MockSchemaRegistry.scope(scope),
            dev.qig.schemas.QuantConfig.class));

    @AfterEach
    void drop() {
        MockSchemaRegistry.drop(scope);
    }

    static dev.qig.schemas.QuantConfig.Builder record(float scale) {
        QuantConfig c = new QuantConfig("sha256-0123456789abcdef", QuantScheme.W3A16, Method.AWQ, 3, 3,
                Map.of(new GroupKey(0, EqualizationGroup.parse("qkv")), new QuantConfig.GroupChoice(0.5,
                        new float[] {1f, scale, 2f}, 0.1, 0.2)), Map.of());
        return dev.qig.schemas.QuantConfig.newBuilder(Records.configRecord(c, Records.settingsRecord(
                CalibrationSettings.builder(QuantScheme.W3A16).build(), EnumSet.of(Method.AWQ)), 1, 64, Instant.EPOCH));
    }

    @Test
    void aGoodConfigDecodesToTheEngineConfig() {
        ConfigDecoder.Decoded d = decoder.decode(TOPIC, serializer.serialize(TOPIC, record(1.5f).build()));
        assertEquals("sha256-0123456789abcdef/w3a16/awq/v3", d.record().getConfigId());
        assertEquals(QuantScheme.W3A16, d.config().scheme());
        assertEquals(1.5f, d.config().groups().values().iterator().next().scales()[1]);
    }

    @Test
    void unusableConfigsAreRejectedWithTheirReason() {
        assertReason(RejectReason.NOT_WIRE_FORMAT, "hello".getBytes());
        byte[] good = serializer.serialize(TOPIC, record(1.5f).build());
        assertReason(RejectReason.CORRUPT_AVRO, java.util.Arrays.copyOf(good, good.length / 2));
        assertReason(RejectReason.MALFORMED_CONFIG, serializer.serialize(TOPIC, record(Float.NaN).build()));
        assertReason(RejectReason.MALFORMED_CONFIG, serializer.serialize(TOPIC, record(0f).build()));
        assertReason(RejectReason.MALFORMED_CONFIG, serializer.serialize(TOPIC, record(1f).setScheme("w5a16").build()));
        assertReason(RejectReason.MALFORMED_CONFIG, serializer.serialize(TOPIC, record(1f).setMethod("magic").build()));
        assertReason(RejectReason.MALFORMED_CONFIG, serializer.serialize(TOPIC, record(1f).setWeightBits(4).build()));
    }

    private void assertReason(RejectReason reason, byte[] bytes) {
        RejectedRecordException e = assertThrows(RejectedRecordException.class, () -> decoder.decode(TOPIC, bytes));
        assertEquals(reason, e.reason(), e.getMessage());
    }
}
