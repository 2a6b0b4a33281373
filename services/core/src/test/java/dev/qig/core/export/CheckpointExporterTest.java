package dev.qig.core.export;

import dev.qig.core.engine.GroupQuantizer;
import dev.qig.core.engine.LayerGroups;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qig.core.hf.HfCheckpoint;
import dev.qig.core.hf.HfFixtures;
import dev.qig.io.HfWeights;
import dev.qig.core.hf.RandomCheckpoint;
import dev.qig.io.DType;
import dev.qig.io.SafetensorsReader;
import dev.qig.io.TensorData;
import dev.qig.core.model.Checkpoint;
import dev.qig.core.model.HiddenAct;
import dev.qig.core.model.LvlmConfig;
import dev.qig.core.model.QuantizableLinear;
import dev.qig.core.model.VisionLanguageModel;
import dev.qig.core.engine.AppliedQuantization;
import dev.qig.quant.EqualizationGroup;
import dev.qig.quant.GroupKey;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.core.engine.QuantConfigApplier;
import dev.qig.quant.QuantScheme;
import dev.qig.core.engine.QuantizedWeights;
import dev.qig.core.engine.gptq.Gptq;
import dev.qig.core.engine.gptq.HessianSum;
import java.io.IOException;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Exports read back two ways: by a reader written here from compressed-tensors' description of its
 * format (not the project's decoder), whose weights must equal the engine's fake-quantized weights
 * bit for bit; and by the project's own loader, whose forward pass must match the engine's
 * quantized forward pass. Configs carry random scales on every group, so folding is exercised.
 */
class CheckpointExporterTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    /**
     * Source models: both golden fixtures (float32, grouped-query attention); the test-bed model; a
     * bfloat16 Qwen2-style checkpoint with as many key/value heads as heads and q/k/v biases (so the
     * O group folds 1/s into v's rows and bias), sharded.
     */
    static Stream<Arguments> sources() {
        return Stream.of(Arguments.of("llava-siglip-qwen2"), Arguments.of("llava-clip-llama"), Arguments.of("test-bed"),
                Arguments.of("mha-qwen2-bf16"));
    }

    private Path source(String name) throws IOException {
        switch (name) {
            case "test-bed":
                return null;
            case "mha-qwen2-bf16": {
                Path dir = tmp.resolve("source-" + name);
                LvlmConfig c = LvlmConfig.builder().imageSize(28).patchSize(7).visionHidden(32).visionLayers(2).visionHeads(4)
                        .visionIntermediate(64).hidden(128).intermediate(256).layers(2).heads(4).kvHeads(4).vocabSize(300)
                        .maxPositions(512).imageTokenId(260).patchPositionEmbedding(false).float32Rope(true).rmsNormEps(1e-6)
                        .vision(LvlmConfig.VisionKind.SIGLIP).layerNormEps(1e-6).visionAct(HiddenAct.GELU_TANH).featureLayer(-1)
                        .selectStrategy(LvlmConfig.SelectStrategy.FULL).attentionBias(true).outputBias(false).tieEmbeddings(true)
                        .ropeTheta(1e6).build();
                RandomCheckpoint.write(dir, c, DType.BF16, 11, 96 << 10, line -> { });
                return dir;
            }
            default:
                return HfFixtures.checkpoint(name);
        }
    }

    private static CheckpointExporter open(Path source, NDManager manager) throws IOException {
        return CheckpointExporter.open(source == null ? Checkpoint.SHIPPED : source.toString(), manager);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("schemesAndSources")
    void storedIntegersDecodeToTheEvaluatedWeightsBitForBit(String name, QuantScheme scheme) throws IOException {
        Path source = source(name);
        try (NDManager manager = NDManager.newBaseManager("PyTorch"); CheckpointExporter exporter = open(source, manager)) {
            VisionLanguageModel model = exporter.model();
            QuantConfig config = randomScales(model, exporter.modelId(), scheme, 5);
            Path out = tmp.resolve("out");
            ExportedCheckpoint exported = exporter.export(config, out, CheckpointExporter.Options.defaults().maxShardBytes(64 << 10));
            assertEquals(CompressedTensors.formatOf(scheme), exported.format());

            Map<String, float[]> evaluated = new TreeMap<>();
            float[] quantizedLogits;
            try (AppliedQuantization applied = QuantConfigApplier.apply(model, config)) {
                for (QuantizableLinear l : model.decoderLinears()) {
                    evaluated.put(l.name(), l.weight().toFloatArray());
                }
                quantizedLogits = logits(model, manager);
            }
            JsonNode qc = JSON.readTree(out.resolve("config.json").toFile()).path(CompressedTensors.CONFIG_KEY);
            if (scheme.staticActivations()) {
                JsonNode input = qc.path("config_groups").path("group_0").path("input_activations");
                assertEquals("tensor", input.path("strategy").asText());
                assertFalse(input.path("dynamic").asBoolean(true));
            }
            try (SpecReader reader = new SpecReader(out, qc)) {
                if (scheme.staticActivations()) {
                    for (QuantizableLinear l : model.decoderLinears()) {
                        String n = checkpointName(source, l.name()) + ".input_scale";
                        assertTrue(reader.byName.containsKey(n), n + " is stored");
                    }
                }
                for (Map.Entry<String, float[]> e : evaluated.entrySet()) {
                    float[] stored = reader.weight(checkpointName(source, e.getKey()));
                    float[] want = e.getValue();
                    assertEquals(want.length, stored.length, e.getKey());
                    // Equal as floats: == also holds between -0.0 and 0.0, and the engine's rounding keeps the sign of
                    // a weight rounded to zero, which an integer cannot carry. Any other difference is a bit of a value.
                    for (int i = 0; i < want.length; i++) {
                        if (!(want[i] == stored[i])) {
                            throw new AssertionError(e.getKey() + "[" + i + "]: stored " + stored[i] + ", evaluated " + want[i]);
                        }
                    }
                }
            }

            try (NDManager other = NDManager.newBaseManager("PyTorch")) {
                VisionLanguageModel back = source == null ? Checkpoint.load(out.toString(), other).model()
                        : HfCheckpoint.loadModel(out, other);
                assertEquals(scheme.quantizesActivations(), QuantConfigApplier.carriesQuantization(back),
                        "activations are quantized on load exactly for A8 schemes");
                float[] served = logits(back, other);
                // Same weights, bit for bit (folded norms and biases are stored in float32 whatever the source's dtype):
                // only the order of float operations may differ.
                assertClose(quantizedLogits, served, 1e-4, name + " " + scheme.id());
            }
        }
    }

    /**
     * A GPTQ config (codes from GPTQ against a random Hessian, so they differ from round-to-nearest)
     * exports pack-quantized with exactly its stored codes, and loads back as it is evaluated.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("sources")
    void gptqConfigsExportTheirOwnCodes(String name) throws IOException {
        Path source = source(name);
        QuantScheme scheme = QuantScheme.W4A16;
        try (NDManager manager = NDManager.newBaseManager("PyTorch"); CheckpointExporter exporter = open(source, manager)) {
            VisionLanguageModel model = exporter.model();
            Random r = new Random(3);
            Map<String, QuantizedWeights.Linear> linears = new TreeMap<>();
            int differ = 0;
            for (QuantizableLinear l : model.decoderLinears()) {
                int n = l.inFeatures();
                float[] x = new float[4 * n * n];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) r.nextGaussian();
                }
                HessianSum h = new HessianSum(n);
                h.add(x, 4 * n, null);
                float[] w = l.weight().toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
                Gptq.Result g = new Gptq(GroupQuantizer.of(scheme)).quantize(w, l.outFeatures(), n, h.toMatrix());
                linears.put(l.name(), new QuantizedWeights.Linear(g.rows(), g.columns(), g.groupSize(), g.codes(), g.scales(),
                        g.zeros(), g.groupIndex()));
                differ += java.util.Arrays.equals(g.codes(), GroupQuantizer.of(scheme).codes(l.weight()).values()) ? 0 : 1;
            }
            assertTrue(differ > 0, "GPTQ codes equal round-to-nearest's everywhere; the test would prove nothing");
            QuantizedWeights weights = new QuantizedWeights(scheme.weightBits(), scheme.symmetric(), linears);
            Path file = tmp.resolve("gptq.safetensors");
            QuantConfig config = new QuantConfig(exporter.modelId(), scheme, Method.GPTQ, 1, 1, Map.of(), Map.of(),
                    new QuantConfig.WeightsRef(file.toString(), weights.write(file)));
            Path out = tmp.resolve("out");
            assertEquals(ServingFormat.PACK_QUANTIZED, exporter.export(config, out, CheckpointExporter.Options.defaults()).format());
            float[] quantizedLogits;
            try (AppliedQuantization applied = QuantConfigApplier.apply(model, config)) {
                quantizedLogits = logits(model, manager);
            }
            JsonNode qc = JSON.readTree(out.resolve("config.json").toFile()).path(CompressedTensors.CONFIG_KEY);
            try (SpecReader reader = new SpecReader(out, qc)) {
                for (Map.Entry<String, QuantizedWeights.Linear> e : linears.entrySet()) {
                    float[] want = e.getValue().dequantized();
                    float[] stored = reader.weight(checkpointName(source, e.getKey()));
                    for (int i = 0; i < want.length; i++) {
                        if (!(want[i] == stored[i])) {
                            throw new AssertionError(e.getKey() + "[" + i + "]: stored " + stored[i] + ", GPTQ " + want[i]);
                        }
                    }
                }
            }
            try (NDManager other = NDManager.newBaseManager("PyTorch")) {
                VisionLanguageModel back = source == null ? Checkpoint.load(out.toString(), other).model()
                        : HfCheckpoint.loadModel(out, other);
                assertClose(quantizedLogits, logits(back, other), 1e-4, name + " gptq");
            }
        }
    }

    static Stream<Arguments> schemesAndSources() {
        List<Arguments> out = new ArrayList<>();
        for (Arguments source : sources().toList()) {
            for (QuantScheme s : List.of(QuantScheme.W4A16, QuantScheme.W8A8, QuantScheme.W4A8, QuantScheme.W8A8_STATIC)) {
                out.add(Arguments.of(source.get()[0], s));
            }
        }
        return out.stream();
    }

    @Test
    void quantizationConfigHasExactlyTheFieldsOfTheSpec() throws IOException {
        // Hidden 128, intermediate 256: every projection but down has one group per row (channel), down has groups of 128.
        Path mixed = source("mha-qwen2-bf16");
        Path fixture = HfFixtures.checkpoint("llava-siglip-qwen2");
        try (NDManager manager = NDManager.newBaseManager("PyTorch"); CheckpointExporter a = open(mixed, manager);
             CheckpointExporter b = open(fixture, manager)) {
            a.export(QuantConfig.rtn(a.modelId(), QuantScheme.W4A16, Map.of()), tmp.resolve("w4a16"), CheckpointExporter.Options.defaults());
            b.export(QuantConfig.rtn(b.modelId(), QuantScheme.W8A8, Map.of()), tmp.resolve("w8a8"), CheckpointExporter.Options.defaults());
        }
        JsonNode w4 = JSON.readTree(tmp.resolve("w4a16/config.json").toFile());
        JsonNode source = JSON.readTree(mixed.resolve("config.json").toFile());
        for (Iterator<String> it = source.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            assertEquals(source.get(f), w4.get(f), "config.json keeps " + f);
        }
        for (JsonNode root : List.of(w4.path(CompressedTensors.CONFIG_KEY),
                JSON.readTree(tmp.resolve("w8a8/config.json").toFile()).path(CompressedTensors.CONFIG_KEY))) {
            // QuantizationConfig's fields as compressed-tensors 0.18 dumps them (quant_config.py), sorted.
            assertEquals(List.of("config_groups", "format", "global_compression_ratio", "ignore", "kv_cache_scheme", "quant_method",
                    "quantization_status", "sparsity_config", "transform_config", "version"), fields(root));
            assertEquals("compressed-tensors", root.path("quant_method").asText());
            assertEquals("compressed", root.path("quantization_status").asText());
            assertEquals(CompressedTensors.VERSION, root.path("version").asText());
            assertTrue(root.path("kv_cache_scheme").isNull() && root.path("global_compression_ratio").isNull());
            assertEquals(0, root.path("sparsity_config").size());
            assertEquals(List.of("re:.*lm_head", "re:.*vision_tower.*", "re:.*multi_modal_projector.*"),
                    JSON.convertValue(root.path("ignore"), List.class));
            for (JsonNode group : root.path("config_groups")) {
                // QuantizationScheme's fields (extra="forbid": any other key fails to load).
                assertEquals(List.of("format", "input_activations", "output_activations", "targets", "weights"), fields(group));
                assertEquals(root.path("format"), group.path("format"));
                assertTrue(group.path("output_activations").isNull());
                assertArgs(group.path("weights"));
                if (!group.path("input_activations").isNull()) {
                    assertArgs(group.path("input_activations"));
                }
            }
        }
        JsonNode w4q = w4.path(CompressedTensors.CONFIG_KEY);
        assertEquals("pack-quantized", w4q.path("format").asText());
        Map<String, JsonNode> byStrategy = new TreeMap<>();
        w4q.path("config_groups").forEach(g -> byStrategy.put(g.path("weights").path("strategy").asText(), g));
        assertEquals(Set.of("channel", "group"), byStrategy.keySet());
        assertEquals(128, byStrategy.get("group").path("weights").path("group_size").asInt());
        assertTrue(byStrategy.get("channel").path("weights").path("group_size").isNull());
        assertEquals(List.of("re:.*mlp\\.down_proj$"), JSON.convertValue(byStrategy.get("group").path("targets"), List.class));
        for (JsonNode g : w4q.path("config_groups")) {
            JsonNode w = g.path("weights");
            assertEquals(4, w.path("num_bits").asInt());
            assertFalse(w.path("symmetric").asBoolean(), "w4a16 is asymmetric: zero points are stored");
            assertFalse(w.path("dynamic").asBoolean());
            assertTrue(g.path("input_activations").isNull());
        }
        JsonNode w8q = JSON.readTree(tmp.resolve("w8a8/config.json").toFile()).path(CompressedTensors.CONFIG_KEY);
        assertEquals("int-quantized", w8q.path("format").asText());
        assertEquals(1, w8q.path("config_groups").size(), "per-row everywhere: one group");
        JsonNode g = w8q.path("config_groups").path("group_0");
        assertEquals(List.of("Linear"), JSON.convertValue(g.path("targets"), List.class));
        assertEquals("channel", g.path("weights").path("strategy").asText());
        assertTrue(g.path("weights").path("symmetric").asBoolean());
        JsonNode in = g.path("input_activations");
        assertEquals("token", in.path("strategy").asText());
        assertTrue(in.path("dynamic").asBoolean());
        assertEquals(8, in.path("num_bits").asInt());
        assertTrue(in.path("observer").isNull(), "dynamic arguments have no observer");
    }

    /** QuantizationArgs as compressed-tensors validates it, less scale_dtype and zp_dtype (left out for older vLLM). */
    private static void assertArgs(JsonNode args) {
        assertEquals(List.of("actorder", "block_structure", "dynamic", "group_size", "num_bits", "observer", "observer_kwargs",
                "strategy", "symmetric", "type"), fields(args));
        assertEquals("int", args.path("type").asText());
        assertTrue(args.path("actorder").isNull(), "vLLM refuses actorder group; none is used");
        String strategy = args.path("strategy").asText();
        assertTrue(Set.of("channel", "group", "token").contains(strategy), strategy);
        assertEquals(strategy.equals("group"), args.path("group_size").asInt(0) > 0, "group_size exactly for the group strategy");
        assertEquals(strategy.equals("token"), args.path("dynamic").asBoolean(), "token strategy requires dynamic");
    }

    private static List<String> fields(JsonNode node) {
        List<String> out = new ArrayList<>();
        node.fieldNames().forEachRemaining(out::add);
        return out;
    }

    @Test
    void schemesNoEngineServesAreRefusedInOneLineOrExportedLabelledAsFakeQuantized() throws IOException {
        Path fixture = HfFixtures.checkpoint("llava-siglip-qwen2");
        try (NDManager manager = NDManager.newBaseManager("PyTorch"); CheckpointExporter exporter = open(fixture, manager)) {
            for (QuantScheme s : List.of(QuantScheme.W3A16, QuantScheme.W2A16, QuantScheme.W4A4, QuantScheme.W4A8_STATIC)) {
                QuantConfig config = QuantConfig.rtn(exporter.modelId(), s, Map.of());
                UnservableSchemeException e = assertThrows(UnservableSchemeException.class,
                        () -> exporter.export(config, tmp.resolve("refused-" + s.id()), CheckpointExporter.Options.defaults()));
                assertFalse(e.getMessage().contains("\n"), e.getMessage());
                assertTrue(e.getMessage().startsWith("scheme " + s.id() + " has no serving format"), e.getMessage());
                assertTrue(e.getMessage().contains("w4a16 (pack-quantized)") && e.getMessage().contains("w8a8, w4a8, w8a8-static (int-quantized)"),
                        e.getMessage());
            }
            VisionLanguageModel model = exporter.model();
            QuantConfig config = randomScales(model, exporter.modelId(), QuantScheme.W3A16, 9);
            Path out = tmp.resolve("fake");
            ExportedCheckpoint exported = exporter.export(config, out, CheckpointExporter.Options.defaults().fakeQuantizeUnservable(true));
            assertEquals(ServingFormat.FAKE_QUANTIZED, exported.format());
            assertFalse(JSON.readTree(out.resolve("config.json").toFile()).has(CompressedTensors.CONFIG_KEY),
                    "float weights: nothing for an engine to decode");
            assertTrue(Files.readString(out.resolve("README.md")).contains("FAKE-QUANTIZED"));
            assertTrue(JSON.readTree(out.resolve(CheckpointExporter.PROVENANCE).toFile()).path("fake_quantized").asBoolean());
            Map<String, float[]> evaluated = new TreeMap<>();
            try (AppliedQuantization applied = QuantConfigApplier.apply(model, config)) {
                model.decoderLinears().forEach(l -> evaluated.put(l.name(), l.weight().toFloatArray()));
            }
            try (SafetensorsReader r = SafetensorsReader.open(out.resolve("model.safetensors"))) {
                assertEquals("w3a16", r.metadata().get("qig.fake_quantized"));
                for (Map.Entry<String, float[]> e : evaluated.entrySet()) {
                    float[] stored = r.tensor(checkpointName(fixture, e.getKey()) + ".weight").toFloatArray();
                    for (int i = 0; i < stored.length; i++) {
                        assertTrue(e.getValue()[i] == stored[i], e.getKey() + "[" + i + "]"); // float32 source: stored as evaluated
                    }
                }
            }
        }
    }

    @Test
    void anExportIsDeterministicCopiesTheProcessorFilesAndRefusesWhatItCannotDo() throws IOException {
        Path fixture = HfFixtures.checkpoint("llava-siglip-qwen2");
        try (NDManager manager = NDManager.newBaseManager("PyTorch"); CheckpointExporter exporter = open(fixture, manager)) {
            QuantConfig config = randomScales(exporter.model(), exporter.modelId(), QuantScheme.W4A16, 3);
            ExportedCheckpoint a = exporter.export(config, tmp.resolve("a"), CheckpointExporter.Options.defaults());
            ExportedCheckpoint b = exporter.export(config, tmp.resolve("b"), CheckpointExporter.Options.defaults());
            assertEquals(a.contentHash(), b.contentHash(), "same model and config, same bytes");
            assertEquals(a.files(), b.files());
            ExportedCheckpoint c = exporter.export(randomScales(exporter.model(), exporter.modelId(), QuantScheme.W4A16, 4),
                    tmp.resolve("c"), CheckpointExporter.Options.defaults());
            assertNotEquals(a.contentHash(), c.contentHash(), "other scales, other bytes");
            assertEquals(ServingFormat.FAKE_QUANTIZED, exporter.export(config, tmp.resolve("fake"),
                    CheckpointExporter.Options.defaults().fakeQuantize(true)).format(), "asked for, any scheme is fake-quantized");
            for (String f : List.of("preprocessor_config.json", "processor_config.json")) {
                assertEquals(Files.readString(fixture.resolve(f)), Files.readString(tmp.resolve("a").resolve(f)), f);
            }
            Set<String> paths = new TreeSet<>();
            a.files().forEach(f -> paths.add(f.path()));
            assertTrue(paths.containsAll(List.of("config.json", "model.safetensors", "README.md", CheckpointExporter.PROVENANCE)), paths.toString());
            assertFalse(paths.stream().anyMatch(p -> p.startsWith("golden")), "only the checkpoint's own files");

            assertThrows(IOException.class, () -> exporter.export(config, tmp.resolve("a"), CheckpointExporter.Options.defaults()),
                    "a non-empty folder is not overwritten");
            QuantConfig other = QuantConfig.rtn("sha256-0000000000000000", QuantScheme.W4A16, Map.of());
            assertThrows(IllegalArgumentException.class,
                    () -> exporter.export(other, tmp.resolve("other"), CheckpointExporter.Options.defaults()));
        }
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            IOException e = assertThrows(IOException.class, () -> CheckpointExporter.open(tmp.resolve("a").toString(), manager));
            assertTrue(e.getMessage().contains("already quantized"), e.getMessage());
        }
    }

    /** Random positive scales on every group that applies, two orders of magnitude wide. */
    static QuantConfig randomScales(VisionLanguageModel model, String modelId, QuantScheme scheme, long seed) {
        Random r = new Random(seed);
        Map<GroupKey, QuantConfig.GroupChoice> groups = new TreeMap<>();
        for (var layer : model.layers()) {
            for (EqualizationGroup g : EqualizationGroup.values()) {
                if (LayerGroups.appliesTo(g, layer)) {
                    float[] s = new float[LayerGroups.channels(g, layer)];
                    for (int c = 0; c < s.length; c++) {
                        s[c] = (float) Math.exp(r.nextGaussian() * 1.2);
                    }
                    groups.put(new GroupKey(layer.index(), g), new QuantConfig.GroupChoice(0.5, s, 0, 0));
                }
            }
        }
        QuantConfig config = new QuantConfig(modelId, scheme, Method.QIG, 1, 1, groups, Map.of());
        if (!scheme.staticActivations()) {
            return config;
        }
        Map<GroupKey, Float> inputScales = new TreeMap<>();
        for (var layer : model.layers()) {
            for (EqualizationGroup g : EqualizationGroup.values()) {
                inputScales.put(new GroupKey(layer.index(), g), (float) (0.002 + 0.03 * r.nextDouble()));
            }
        }
        return config.withInputScales(inputScales);
    }

    private static String checkpointName(Path source, String linear) throws IOException {
        if (source == null) {
            return linear; // the test bed stores the model's own names
        }
        try (HfWeights w = HfWeights.open(source)) {
            for (String n : w.names()) {
                if ((linear + ".weight").equals(HfWeights.internalName(n))) {
                    return n.substring(0, n.length() - ".weight".length());
                }
            }
        }
        throw new AssertionError("no checkpoint tensor for " + linear);
    }

    /** Logits of a fixed input: every image token, then text; pixels from a seeded Gaussian. */
    static float[] logits(VisionLanguageModel model, NDManager manager) {
        LvlmConfig c = model.config();
        int n = c.visionTokens();
        long[] ids = new long[n + 8];
        for (int i = 0; i < ids.length; i++) {
            long id = i < n ? c.imageTokenId() : (i * 7L + 5) % c.vocabSize();
            ids[i] = i >= n && id == c.imageTokenId() ? id + 1 : id;
        }
        Random r = new Random(1);
        float[] px = new float[3 * c.imageSize() * c.imageSize()];
        for (int i = 0; i < px.length; i++) {
            px[i] = (float) r.nextGaussian();
        }
        try (NDManager scope = manager.newSubManager()) {
            NDArray pixels = scope.create(px, new Shape(1, 3, c.imageSize(), c.imageSize()));
            NDArray tokens = scope.create(ids, new Shape(1, ids.length));
            NDList out = model.forward(new ParameterStore(scope, false), new NDList(pixels, tokens), false);
            return out.get(0).toFloatArray();
        }
    }

    private static void assertClose(float[] want, float[] got, double rel, String what) {
        assertEquals(want.length, got.length, what);
        double scale = 0;
        double worst = 0;
        for (int i = 0; i < want.length; i++) {
            scale = Math.max(scale, Math.abs(want[i]));
            worst = Math.max(worst, Math.abs(want[i] - got[i]));
        }
        assertTrue(worst <= rel * Math.max(scale, 1e-3), what + ": logits differ by " + worst + " (largest " + scale + ")");
        assertTrue(worst >= 0);
    }

    /**
     * A reader of compressed-tensors checkpoints written from the format's description alone: a
     * quantized linear X is X.weight_packed (int32 words; row r's values form one little-endian bit
     * stream, value c at bits [c*b, c*b+b), stored as q + 2^(b-1)), X.weight_scale (out, groups),
     * X.weight_zero_point (zero points packed the same way down each column) and X.weight_shape; or,
     * int-quantized, X.weight int8 and X.weight_scale (out, 1). A weight is (q - zp) * scale.
     */
    private static final class SpecReader implements AutoCloseable {
        private final Map<String, SafetensorsReader> byName = new TreeMap<>();
        private final List<SafetensorsReader> files = new ArrayList<>();
        private final int bits;

        SpecReader(Path dir, JsonNode quantizationConfig) throws IOException {
            try (Stream<Path> all = Files.list(dir)) {
                for (Path p : (Iterable<Path>) all.filter(p -> p.toString().endsWith(".safetensors")).sorted()::iterator) {
                    SafetensorsReader r = SafetensorsReader.open(p);
                    files.add(r);
                    r.names().forEach(n -> byName.put(n, r));
                }
            }
            this.bits = quantizationConfig.path("config_groups").elements().next().path("weights").path("num_bits").asInt();
        }

        float[] weight(String module) throws IOException {
            TensorData scale = byName.get(module + ".weight_scale").tensor(module + ".weight_scale");
            assertEquals(DType.F32, scale.dtype());
            float[] s = scale.toFloatArray();
            int groups = (int) scale.shape()[1];
            if (byName.containsKey(module + ".weight_packed")) {
                LongBuffer shape = byName.get(module + ".weight_shape").tensor(module + ".weight_shape").data().asLongBuffer();
                int rows = (int) shape.get(0);
                int cols = (int) shape.get(1);
                TensorData packed = byName.get(module + ".weight_packed").tensor(module + ".weight_packed");
                assertEquals(DType.I32, packed.dtype());
                int words = (cols * bits + 31) / 32;
                assertEquals(List.of((long) rows, (long) words), List.of(packed.shape()[0], packed.shape()[1]));
                IntBuffer w = packed.data().asIntBuffer();
                int[] zp = null;
                if (byName.containsKey(module + ".weight_zero_point")) {
                    TensorData z = byName.get(module + ".weight_zero_point").tensor(module + ".weight_zero_point");
                    int zWords = (rows * bits + 31) / 32;
                    assertEquals(List.of((long) zWords, (long) groups), List.of(z.shape()[0], z.shape()[1]));
                    IntBuffer zb = z.data().asIntBuffer();
                    zp = new int[rows * groups];
                    for (int g = 0; g < groups; g++) {
                        int column = g;
                        for (int r = 0; r < rows; r++) {
                            zp[r * groups + g] = field(i -> zb.get(i * groups + column), r, bits) - (1 << (bits - 1));
                        }
                    }
                }
                float[] out = new float[rows * cols];
                for (int r = 0; r < rows; r++) {
                    int row = r;
                    for (int c = 0; c < cols; c++) {
                        int q = field(i -> w.get(row * words + i), c, bits) - (1 << (bits - 1));
                        int g = r * groups + c / (cols / groups);
                        out[r * cols + c] = (zp == null ? q : q - zp[g]) * s[g];
                    }
                }
                return out;
            }
            TensorData q = byName.get(module + ".weight").tensor(module + ".weight");
            assertEquals(DType.I8, q.dtype());
            int rows = (int) q.shape()[0];
            int cols = (int) q.shape()[1];
            assertEquals(1, groups, "int-quantized weights have one scale per row");
            float[] out = new float[rows * cols];
            for (int i = 0; i < out.length; i++) {
                out[i] = q.data().get(i) * s[i / cols];
            }
            return out;
        }

        /** Bits [index*b, index*b+b) of the little-endian stream of 32-bit words, read one bit at a time. */
        private static int field(java.util.function.IntUnaryOperator word, int index, int b) {
            int v = 0;
            for (int k = 0; k < b; k++) {
                long bit = (long) index * b + k;
                v |= ((word.applyAsInt((int) (bit / 32)) >>> (bit % 32)) & 1) << k;
            }
            return v;
        }

        @Override
        public void close() throws IOException {
            for (SafetensorsReader r : files) {
                r.close();
            }
        }
    }
}
