package dev.qig.app.commands;

import dev.qig.server.ServiceCommands;
import dev.qig.server.TopicsConfig;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qig.core.export.CheckpointExporter;
import dev.qig.core.export.CompressedTensors;
import dev.qig.core.export.ExportedCheckpoint;
import dev.qig.core.export.ExportedFile;
import dev.qig.io.SafetensorsReader;
import dev.qig.io.TensorData;
import dev.qig.core.model.Checkpoint;
import dev.qig.quant.QuantConfig;
import dev.qig.quant.QuantScheme;
import dev.qig.kafka.config.ConfigSources;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.registry.SchemaRegistries;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.topics.Topics.Topic;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code qig export}: a model with a config applied, as a checkpoint a serving engine loads. */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Write a model with a quantization config applied as a compressed-tensors checkpoint folder that vLLM "
                + "loads (w4a16: pack-quantized; w8a8, w4a8: int-quantized), with the tokenizer and processor files copied.")
public final class ExportCommand implements Callable<Integer> {

    @Option(names = "--model", description = "Checkpoint folder (Hugging Face LLaVA or test bed) or classpath:<folder> "
            + "(default: ${DEFAULT-VALUE}).")
    String model = Checkpoint.SHIPPED;

    @Option(names = "--config", required = true, description = "The config: a QuantConfig JSON file (as qig calibrate writes), "
            + "rtn:<scheme> for plain round-to-nearest, or a config id (model/scheme/method/vN) looked up on the configs "
            + "topic (Kafka and registry settings by --set or QIG_* variables).")
    String config;

    @Option(names = "--out", required = true, description = "Folder to write (created; must be empty).")
    Path out;

    @Option(names = "--fake-quantize", description = "Write float32 weights on the scheme's grid, labelled fake-quantized, "
            + "instead of a compressed format: how a scheme no engine serves (w3a16, w2a16, w4a4) is exported at all, and "
            + "the weights a compressed export of the same config must decode to.")
    boolean fakeQuantize;

    @Option(names = "--max-shard-mb", description = "Largest weight shard, in MB of 2^20 bytes (default: ${DEFAULT-VALUE}).")
    long maxShardMb = 1024;

    @Option(names = "--set", description = "A Kafka or registry setting for a config id, key=value; repeatable.")
    List<String> assignments = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        try (NDManager manager = NDManager.newBaseManager("PyTorch");
             CheckpointExporter exporter = CheckpointExporter.open(model, manager)) {
            QuantConfig chosen = resolve(exporter.modelId());
            ExportedCheckpoint done = exporter.export(chosen, out, CheckpointExporter.Options.defaults()
                    .fakeQuantize(fakeQuantize).maxShardBytes(maxShardMb << 20).log(System.out::println));
            System.out.printf(Locale.ROOT, "%nexported %s (%s) from %s to %s%n", chosen.id(), done.format().id(), model, out);
            System.out.printf(Locale.ROOT, "%-44s %12s  %s%n", "file", "bytes", "sha256");
            for (ExportedFile f : done.files()) {
                System.out.printf(Locale.ROOT, "%-44s %12d  %s%n", f.path(), f.size(), f.sha256().substring(0, 16));
            }
            System.out.printf(Locale.ROOT, "%-44s %12d  %s (content hash)%n", "total", done.totalBytes(), done.contentHash());
            printFirstLayer(out);
            var json = new ObjectMapper().readTree(out.resolve("config.json").toFile()).get(CompressedTensors.CONFIG_KEY);
            if (json != null) {
                System.out.println("\nquantization_config:\n" + new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(json));
            }
            return 0;
        }
    }

    /** The stored tensors of the first decoder layer: what an engine reads for each quantized linear. */
    private static void printFirstLayer(Path out) throws java.io.IOException {
        System.out.printf(Locale.ROOT, "%nfirst decoder layer as stored:%n%-66s %-5s %-12s %s%n", "tensor", "dtype", "shape", "first values");
        List<Path> shards;
        try (var files = Files.list(out)) {
            shards = files.filter(p -> p.toString().endsWith(".safetensors")).sorted().toList();
        }
        for (Path shard : shards) {
            try (SafetensorsReader r = SafetensorsReader.open(shard)) {
                for (String name : r.names()) {
                    if (!name.contains("layers.0.") || name.contains("vision")) {
                        continue;
                    }
                    TensorData t = r.tensor(name);
                    System.out.printf(Locale.ROOT, "%-66s %-5s %-12s %s%n", name, t.dtype(),
                            java.util.Arrays.toString(t.shape()).replace(" ", ""), firstValues(t));
                }
            }
        }
    }

    private static String firstValues(TensorData t) {
        java.nio.ByteBuffer b = t.data();
        int n = (int) Math.min(3, t.numel());
        float[] floats = t.dtype().isFloatingPoint() ? t.toFloatArray() : null;
        List<String> v = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            v.add(switch (t.dtype()) {
                case I32 -> String.format(Locale.ROOT, "0x%08x", b.getInt(i * 4));
                case I64 -> Long.toString(b.getLong(i * 8));
                case I8 -> Byte.toString(b.get(i));
                default -> String.format(Locale.ROOT, "%.4g", floats[i]);
            });
        }
        return String.join(" ", v);
    }

    private QuantConfig resolve(String modelId) throws Exception {
        if (config.startsWith("rtn:")) {
            return QuantConfig.rtn(modelId, QuantScheme.parse(config.substring(4)), Map.of("source", "qig export " + config));
        }
        Path file = Path.of(config);
        if (Files.isRegularFile(file)) {
            return QuantConfig.read(file);
        }
        if (!config.contains("/v")) {
            throw new IllegalArgumentException("--config " + config + " is neither a file, rtn:<scheme>, nor a config id "
                    + "(model/scheme/method/vN)");
        }
        return fromTopic(config);
    }

    /** The newest record of the configs topic whose id is {@code id}, read from the beginning to the end. */
    private QuantConfig fromTopic(String id) {
        TopicsConfig settings = new TopicsConfig(ConfigSources.resolve(TopicsConfig.definition(), List.of(),
                ServiceCommands.ConfigCommand.allKeys(), null, System.getenv(), ConfigSources.parseAssignments(assignments)));
        Map<String, Object> props = new HashMap<>(settings.kafkaClientProperties());
        props.put(ConsumerConfig.GROUP_ID_CONFIG, "qig-export-" + UUID.randomUUID());
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        var decoder = new AvroDeserializer<>(SchemaRegistries.create(settings.registryProperties()), dev.qig.schemas.QuantConfig.class);
        String topic = settings.topic(Topic.CONFIGS);
        QuantConfig found = null;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            while (partitions.stream().anyMatch(p -> consumer.position(p) < end.get(p))) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    if (r.value() == null) {
                        continue;
                    }
                    QuantConfig c = Records.config(decoder.deserialize(topic, r.value()));
                    if (c.id().equals(id)) {
                        found = c;
                    }
                }
            }
        }
        if (found == null) {
            throw new IllegalArgumentException("no config " + id + " on topic " + topic);
        }
        return found;
    }
}
