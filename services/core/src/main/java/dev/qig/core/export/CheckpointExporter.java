package dev.qig.core.export;

import dev.qig.core.engine.LayerGroups;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qig.core.hf.CheckpointShards;
import dev.qig.core.hf.HfCheckpoint;
import dev.qig.core.hf.HfLlavaConfig;
import dev.qig.io.HfWeights;
import dev.qig.io.DType;
import dev.qig.io.Folders;
import dev.qig.io.SafetensorsReader;
import dev.qig.io.Sha256;
import dev.qig.io.TensorData;
import dev.qig.io.TensorSource;
import dev.qig.core.model.Checkpoint;
import dev.qig.core.model.QuantizableLinear;
import dev.qig.core.model.VisionLanguageModel;
import dev.qig.core.engine.AppliedQuantization;
import dev.qig.core.engine.GroupQuantizer;
import dev.qig.quant.QuantConfig;
import dev.qig.core.engine.QuantConfigApplier;
import dev.qig.core.engine.QuantizedWeights;
import dev.qig.quant.QuantScheme;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Writes a model with a {@link QuantConfig} applied as a checkpoint folder a serving engine loads:
 * the decoder linears in compressed-tensors' format ({@link CompressedTensors}), everything else as
 * the source stores it (the norms and biases that took a scale in float32), config.json with its
 * {@code quantization_config}, and the tokenizer,
 * chat-template and processor files copied. The scales of AWQ, MBQ and QIG are folded first, in
 * full precision, into the preceding norm or linear exactly as the evaluator applies them
 * ({@link QuantConfigApplier}), and the integers come from the same quantizer
 * ({@link GroupQuantizer#codes}), so the stored weights decode to the evaluated weights bit for bit.
 *
 * <p>The output is deterministic: the same model and config give the same bytes, so a content hash
 * names an export. Works for Hugging Face LLaVA folders (names kept in the source's key layout) and
 * for the test-bed model (which no serving engine runs: its vision tower has no transformers class).
 */
public final class CheckpointExporter implements AutoCloseable {

    /** How to export. */
    public static final class Options {
        private boolean fakeQuantizeUnservable;
        private boolean fakeQuantize;
        private long maxShardBytes = CheckpointShards.DEFAULT_SHARD_BYTES;
        private Consumer<String> log = s -> { };

        public static Options defaults() {
            return new Options();
        }

        /** Export schemes no engine serves as float weights on their grid, labelled fake-quantized, instead of refusing them. */
        public Options fakeQuantizeUnservable(boolean on) {
            this.fakeQuantizeUnservable = on;
            return this;
        }

        /**
         * Export every scheme as float32 weights on its grid, labelled fake-quantized: for evaluating the
         * quantized model in tools that do not read compressed-tensors, and for checking a compressed
         * export against the weights it must decode to.
         */
        public Options fakeQuantize(boolean on) {
            this.fakeQuantize = on;
            return this;
        }

        /** Shards this size or smaller, as save_pretrained cuts them (a bigger tensor gets a shard alone). */
        public Options maxShardBytes(long bytes) {
            if (bytes <= 0) {
                throw new IllegalArgumentException("maxShardBytes must be positive, got " + bytes);
            }
            this.maxShardBytes = bytes;
            return this;
        }

        /** Receives one line per file written. */
        public Options log(Consumer<String> log) {
            this.log = log;
            return this;
        }
    }

    /** The file beside the weights that says what was exported from what. */
    public static final String PROVENANCE = "qig-export.json";
    private static final String README = "README.md";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String location;
    private final Path source;
    private final Path classpathCopy;
    private final VisionLanguageModel model;
    private final String modelId;
    private final boolean huggingFace;

    private CheckpointExporter(String location, Path source, Path classpathCopy, VisionLanguageModel model, String modelId) {
        this.location = location;
        this.source = source;
        this.classpathCopy = classpathCopy;
        this.model = model;
        this.modelId = modelId;
        this.huggingFace = HfLlavaConfig.isCheckpoint(source);
    }

    /** Loads the model at a checkpoint location (a folder or classpath:&lt;folder&gt;) to export configs of it. */
    public static CheckpointExporter open(String location, NDManager manager) throws IOException {
        Path copy = null;
        Path dir;
        if (location.startsWith("classpath:")) {
            copy = Files.createTempDirectory("qig-export-source");
            Checkpoint.copyFromClasspath(location.substring("classpath:".length()), copy);
            dir = copy;
        } else {
            dir = Path.of(location);
        }
        try {
            JsonNode config = JSON.readTree(dir.resolve(HfLlavaConfig.FILE).toFile());
            if (CompressedTensors.isQuantized(config)) {
                throw new IOException(location + " is already quantized (its config.json has a " + CompressedTensors.CONFIG_KEY
                        + "); export from the full-precision checkpoint");
            }
            // Only the weights: a checkpoint without a tokenizer exports too (the serving side needs one; it is copied when present).
            VisionLanguageModel model = HfLlavaConfig.isCheckpoint(dir) ? HfCheckpoint.loadModel(dir, manager)
                    : Checkpoint.load(dir, manager).model();
            return new CheckpointExporter(location, dir, copy, model, Checkpoint.modelId(dir));
        } catch (IOException | RuntimeException e) {
            if (copy != null) {
                try {
                    Folders.deleteTree(copy);
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    /** The id of the loaded model (what a config's model field names). */
    public String modelId() {
        return modelId;
    }

    /** The checkpoint location the model was loaded from. */
    public String location() {
        return location;
    }

    /** The loaded full-precision model (configs are applied to it during an export and removed after). */
    public VisionLanguageModel model() {
        return model;
    }

    /**
     * Writes the model with {@code config} applied to {@code out} (created; must be empty or absent).
     *
     * @throws UnservableSchemeException for a scheme no engine serves, unless options allow fake quantization
     * @throws IllegalArgumentException for a config of another model
     */
    public ExportedCheckpoint export(QuantConfig config, Path out, Options options) throws IOException {
        if (!config.model().equals(modelId())) {
            throw new IllegalArgumentException("config " + config.id() + " is for model " + config.model() + ", not "
                    + modelId() + " (" + location + ")");
        }
        ServingFormat format = servingFormat(config.scheme(), options);
        Files.createDirectories(out);
        try (Stream<Path> existing = Files.list(out)) {
            if (existing.findAny().isPresent()) {
                throw new IOException(out + " is not empty; an export writes into an empty folder");
            }
        }
        Map<String, QuantizableLinear> linears = new LinkedHashMap<>();
        for (QuantizableLinear l : model.decoderLinears()) {
            linears.put(l.name() + CompressedTensors.WEIGHT, l);
        }
        GroupQuantizer quantizer = GroupQuantizer.of(config.scheme());
        QuantizedWeights own = ownWeights(config, format);
        Map<String, Float> inputScales = inputScales(config);
        try (TensorSource stored = openStored();
             AppliedQuantization folded = QuantConfigApplier.apply(model, config, false)) {
            List<Unit> units = new ArrayList<>();
            for (String name : stored.names()) {
                String internal = huggingFace ? HfWeights.internalName(name) : name;
                DType dtype = stored.dtype(name);
                QuantizableLinear linear = linears.get(internal);
                if (linear != null) {
                    QuantizedWeights.Linear codes = own == null ? null : own.linears().get(linear.name());
                    Float inputScale = inputScales.get(linear.name());
                    units.add(new Unit(encodedBytes(linear, quantizer, format) + (inputScale == null ? 0 : 4),
                            () -> encode(name, linear, quantizer, format, codes, inputScale)));
                } else if (folded.editedNames().contains(internal)) {
                    // A norm or bias that took a group's 1/s: kept in float32, as folded, whatever the source's dtype (a
                    // vector per layer; an engine casts it to its own dtype on load).
                    units.add(new Unit(TensorData.numel(stored.shape(name)) * Float.BYTES,
                            () -> List.of(fromArray(name, model.weights().parameters().get(internal).getArray()))));
                } else {
                    units.add(new Unit(TensorData.numel(stored.shape(name)) * dtype.byteSize(), () -> List.of(stored.tensor(name))));
                }
            }
            writeWeights(out, units, format, config, options);
        }
        writeConfig(out, config, format, quantizer);
        copySideFiles(out);
        writeProvenance(out, config, format);
        List<ExportedFile> files = new ArrayList<>();
        try (Stream<Path> all = Files.walk(out)) {
            for (Path p : (Iterable<Path>) all.filter(Files::isRegularFile).sorted()::iterator) {
                files.add(new ExportedFile(out.relativize(p).toString().replace('\\', '/'), Files.size(p), Sha256.of(p)));
            }
        }
        ExportedCheckpoint done = new ExportedCheckpoint(out, modelId(), config.id(), format, files);
        options.log.accept(String.format(Locale.ROOT, "exported %s as %s: %d files, %.1f MB, %s", config.id(), format.id(),
                files.size(), done.totalBytes() / 1e6, done.contentHash()));
        return done;
    }

    private static ServingFormat servingFormat(QuantScheme scheme, Options options) {
        if (options.fakeQuantize) {
            return ServingFormat.FAKE_QUANTIZED;
        }
        try {
            return CompressedTensors.formatOf(scheme);
        } catch (UnservableSchemeException e) {
            if (!options.fakeQuantizeUnservable) {
                throw e;
            }
            return ServingFormat.FAKE_QUANTIZED;
        }
    }

    /** What one source tensor becomes: one to four tensors, made when its shard is written. */
    private record Unit(long bytes, TensorMaker make) {}

    @FunctionalInterface
    private interface TensorMaker {
        List<TensorData> make() throws IOException;
    }

    private TensorSource openStored() throws IOException {
        return huggingFace ? HfWeights.open(source) : SafetensorsReader.open(source.resolve(Checkpoint.WEIGHTS));
    }

    private static long encodedBytes(QuantizableLinear l, GroupQuantizer q, ServingFormat format) {
        long rows = l.outFeatures();
        long in = l.inFeatures();
        long groups = in / q.effectiveGroupSize(in);
        return switch (format) {
            case PACK_QUANTIZED -> rows * PackedIntegers.wordsPerRow(Math.toIntExact(in), q.bits()) * 4L + rows * groups * 4
                    + 16 + (q.symmetric() ? 0 : (long) PackedIntegers.wordsPerRow(Math.toIntExact(rows), q.bits()) * groups * 4);
            case INT_QUANTIZED -> rows * in + rows * 4;
            case FAKE_QUANTIZED -> rows * in * Float.BYTES;
        };
    }

    /** A GPTQ config's own weights, read and checked; null for a config whose weights are rounded to nearest. */
    private static QuantizedWeights ownWeights(QuantConfig config, ServingFormat format) throws IOException {
        if (config.weights() == null) {
            return null;
        }
        QuantizedWeights w = QuantizedWeights.read(Path.of(config.weights().location()), config.weights().sha256());
        if (format != ServingFormat.FAKE_QUANTIZED
                && !w.linears().values().stream().allMatch(QuantizedWeights.Linear::contiguousGroups)) {
            throw new IllegalArgumentException("config " + config.id() + " was quantized with act-order (groups of reordered "
                    + "columns), which this exporter writes fake-quantized only");
        }
        return w;
    }

    /** Per decoder linear, its input site's static activation scale (static schemes; empty otherwise). */
    private Map<String, Float> inputScales(QuantConfig config) {
        Map<String, Float> out = new java.util.HashMap<>();
        if (!config.scheme().staticActivations()) {
            return out;
        }
        for (dev.qig.core.model.DecoderLayer layer : model.layers()) {
            for (dev.qig.quant.EqualizationGroup g : dev.qig.quant.EqualizationGroup.values()) {
                Float scale = config.inputScales().get(new dev.qig.quant.GroupKey(layer.index(), g));
                if (scale == null) {
                    throw new IllegalArgumentException("config " + config.id() + " of static scheme " + config.scheme().id()
                            + " has no input scale for layer" + layer.index() + "." + g.id());
                }
                LayerGroups.linears(g, layer).forEach(l -> out.put(l.name(), scale));
            }
        }
        return out;
    }

    private static List<TensorData> encode(String name, QuantizableLinear linear, GroupQuantizer quantizer, ServingFormat format,
                                           QuantizedWeights.Linear own, Float inputScale) {
        String base = name.substring(0, name.length() - CompressedTensors.WEIGHT.length());
        if (format == ServingFormat.FAKE_QUANTIZED) {
            float[] w;
            int rows = linear.outFeatures();
            int cols = linear.inFeatures();
            if (own != null) {
                w = own.dequantized();
            } else {
                GroupQuantizer.Codes codes = quantizer.codes(linear.weight());
                w = new float[rows * cols];
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < cols; c++) {
                        w[r * cols + c] = codes.dequantized(r, c);
                    }
                }
            }
            // float32 whatever the source's dtype: rounded to half precision they would leave the grid.
            return List.of(TensorData.ofFloats(name, new long[] {rows, cols}, w));
        }
        GroupQuantizer.Codes codes = own != null ? own.asCodes() : quantizer.codes(linear.weight());
        int rows = codes.rows();
        int cols = codes.columns();
        // compressed-tensors stores signed integers: the engine's unsigned asymmetric codes move down by 2^(b-1),
        // zero points with them, so (q - zero) is unchanged.
        int offset = quantizer.symmetric() ? 0 : 1 << (quantizer.bits() - 1);
        byte[] values = new byte[rows * cols];
        int[] q = codes.values();
        for (int i = 0; i < values.length; i++) {
            values[i] = (byte) (q[i] - offset);
        }
        int groups = codes.groups();
        TensorData scale = TensorData.ofFloats(base + CompressedTensors.SCALE, new long[] {rows, groups}, codes.scales());
        List<TensorData> out = new ArrayList<>();
        if (format == ServingFormat.INT_QUANTIZED) {
            out.add(new TensorData(name, DType.I8, new long[] {rows, cols}, ByteBuffer.wrap(values)));
            out.add(scale);
            if (inputScale != null) {
                out.add(TensorData.ofFloats(base + CompressedTensors.INPUT_SCALE, new long[] {1}, new float[] {inputScale}));
            }
            return out;
        }
        out.add(ints(base + CompressedTensors.PACKED, new long[] {rows, PackedIntegers.wordsPerRow(cols, quantizer.bits())},
                PackedIntegers.packRows(values, rows, cols, quantizer.bits())));
        out.add(scale);
        ByteBuffer shape = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(rows).putLong(cols).flip();
        out.add(new TensorData(base + CompressedTensors.SHAPE, DType.I64, new long[] {2}, shape));
        if (!quantizer.symmetric()) {
            byte[] zeros = new byte[rows * groups];
            int[] z = codes.zeros();
            for (int i = 0; i < zeros.length; i++) {
                zeros[i] = (byte) (z[i] - offset);
            }
            out.add(ints(base + CompressedTensors.ZERO_POINT,
                    new long[] {PackedIntegers.wordsPerRow(rows, quantizer.bits()), groups},
                    PackedIntegers.packColumns(zeros, rows, groups, quantizer.bits())));
        }
        return out;
    }

    private static TensorData ints(String name, long[] shape, int[] words) {
        ByteBuffer b = ByteBuffer.allocate(words.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(words);
        return new TensorData(name, DType.I32, shape, b);
    }

    private static TensorData fromArray(String name, NDArray array) {
        return TensorData.ofFloats(name, array.getShape().getShape(), array.toType(DataType.FLOAT32, false).toFloatArray());
    }

    private void writeWeights(Path out, List<Unit> units, ServingFormat format, QuantConfig config, Options options)
            throws IOException {
        // The test bed's loader reads one file.
        List<List<Unit>> shards = CheckpointShards.plan(units, Unit::bytes, huggingFace ? options.maxShardBytes : Long.MAX_VALUE);
        Map<String, String> metadata = new TreeMap<>(Map.of("format", "pt"));
        if (format == ServingFormat.FAKE_QUANTIZED) {
            metadata.put("qig.fake_quantized", config.scheme().id());
        }
        Map<String, String> weightMap = new TreeMap<>();
        long total = 0;
        for (int i = 0; i < shards.size(); i++) {
            String file = CheckpointShards.fileName(i, shards.size());
            List<TensorData> tensors = new ArrayList<>();
            for (Unit u : shards.get(i)) {
                tensors.addAll(u.make().make());
            }
            dev.qig.io.SafetensorsWriter.write(out.resolve(file), metadata, tensors);
            long bytes = 0;
            for (TensorData t : tensors) {
                weightMap.put(t.name(), file);
                bytes += t.byteSize();
            }
            total += bytes;
            options.log.accept(String.format(Locale.ROOT, "wrote %s: %d tensors, %.1f MB", file, tensors.size(), bytes / 1e6));
        }
        if (shards.size() > 1) {
            CheckpointShards.writeIndex(out, weightMap, total);
        }
    }

    private void writeConfig(Path out, QuantConfig config, ServingFormat format, GroupQuantizer quantizer) throws IOException {
        ObjectNode root = (ObjectNode) JSON.readTree(Files.readString(source.resolve(HfLlavaConfig.FILE), StandardCharsets.UTF_8));
        root.remove(CompressedTensors.CONFIG_KEY);
        if (format != ServingFormat.FAKE_QUANTIZED) {
            root.set(CompressedTensors.CONFIG_KEY, CompressedTensors.quantizationConfig(format, groups(config.scheme(), quantizer),
                    config.scheme().staticActivations()));
        }
        Files.writeString(out.resolve(HfLlavaConfig.FILE), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n",
                StandardCharsets.UTF_8);
    }

    /**
     * The config groups: one targeting every Linear when all decoder linears share a strategy (as
     * llm-compressor writes it); otherwise one per strategy, each naming its projections by
     * expression (vLLM matches a fused q/k/v or gate/up by its parts' names).
     */
    private List<CompressedTensors.Group> groups(QuantScheme scheme, GroupQuantizer quantizer) {
        Map<Integer, List<String>> byGroupSize = new TreeMap<>();
        Map<String, Integer> projections = new TreeMap<>();
        for (QuantizableLinear l : model.decoderLinears()) {
            String projection = l.name().substring(l.name().lastIndexOf('.', l.name().lastIndexOf('.') - 1) + 1);
            int g = quantizer.effectiveGroupSize(l.inFeatures());
            projections.put(projection, g == l.inFeatures() ? 0 : g);
        }
        projections.forEach((p, g) -> byGroupSize.computeIfAbsent(g, k -> new ArrayList<>()).add("re:.*" + p.replace(".", "\\.") + "$"));
        int activations = scheme.quantizesActivations() ? scheme.activationBits() : 16;
        if (byGroupSize.size() == 1) {
            return List.of(new CompressedTensors.Group(List.of("Linear"), scheme.weightBits(), scheme.symmetric(),
                    byGroupSize.keySet().iterator().next(), activations));
        }
        List<CompressedTensors.Group> out = new ArrayList<>();
        byGroupSize.forEach((g, targets) -> out.add(new CompressedTensors.Group(targets, scheme.weightBits(), scheme.symmetric(), g,
                activations)));
        return out;
    }

    private void copySideFiles(Path out) throws IOException {
        try (Stream<Path> files = Files.list(source)) {
            for (Path p : (Iterable<Path>) files.filter(Files::isRegularFile).sorted()::iterator) {
                String name = p.getFileName().toString();
                if (name.equals(HfLlavaConfig.FILE) || name.endsWith(".safetensors") || name.equals(HfWeights.INDEX)
                        || name.equals(README) || name.equals(PROVENANCE) || name.startsWith(".")) {
                    continue;
                }
                Files.copy(p, out.resolve(name));
            }
        }
    }

    private void writeProvenance(Path out, QuantConfig config, ServingFormat format) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("config_id", config.id());
        root.put("model_id", modelId());
        root.put("scheme", config.scheme().id());
        root.put("method", config.method().id());
        root.put("config_version", config.version());
        root.put("round", config.round());
        root.put("format", format.id());
        root.put("fake_quantized", format == ServingFormat.FAKE_QUANTIZED);
        root.put("compressed_tensors_version", CompressedTensors.VERSION);
        ObjectNode alphas = root.putObject("alphas");
        config.groups().forEach((k, v) -> alphas.put(k.toString(), v.alpha()));
        if (!config.inputScales().isEmpty()) {
            // Static schemes: kept here too, since a fake-quantized export has no input_scale tensors.
            ObjectNode scales = root.putObject("input_scales");
            config.inputScales().forEach((k, v) -> scales.put(k.toString(), v));
        }
        ObjectNode provenance = root.putObject("provenance");
        config.provenance().forEach(provenance::put);
        Files.writeString(out.resolve(PROVENANCE), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n",
                StandardCharsets.UTF_8);
        Files.writeString(out.resolve(README), modelCard(config, format), StandardCharsets.UTF_8);
    }

    private String modelCard(QuantConfig config, ServingFormat format) {
        QuantScheme s = config.scheme();
        StringBuilder b = new StringBuilder();
        b.append("# ").append(config.id()).append("\n\n");
        b.append("Exported by qig-stream from model `").append(modelId()).append("` with the ").append(config.method().id())
                .append(" config (version ").append(config.version()).append(", round ").append(config.round()).append(") for scheme ")
                .append(s.id()).append(".\n\n");
        if (format == ServingFormat.FAKE_QUANTIZED) {
            b.append("**FAKE-QUANTIZED.** The decoder weights of scheme ").append(s.id()).append(" are ")
                    .append("stored as float32 values equal to their quantized ones")
                    .append(s.quantizesActivations() ? "; the " + s.activationBits() + "-bit activation quantization is not "
                            + "represented and must be applied at run time" + (s.staticActivations()
                                    ? " (its static scales per input site are listed in " + PROVENANCE + ")" : "") : "")
                    .append(". It is for evaluation, not for saving memory.\n");
        } else {
            b.append("Decoder linears are stored in compressed-tensors' `").append(format.id()).append("` format (as of compressed-tensors ")
                    .append(CompressedTensors.VERSION).append("); the vision tower, projector and lm_head stay in full precision. ");
            b.append(huggingFace ? "Serve it with `vllm serve <this folder>`.\n"
                    : "This is the test-bed model: its vision tower has no transformers class, so only qig-stream loads it.\n");
        }
        b.append("\n`").append(PROVENANCE).append("` says what it was exported from.\n");
        return b.toString();
    }

    /** Releases the temporary copy of a classpath model; the model's arrays belong to the caller's manager. */
    @Override
    public void close() {
        if (classpathCopy != null) {
            try {
                Folders.deleteTree(classpathCopy);
            } catch (IOException e) {
                throw new UncheckedIOException("could not delete " + classpathCopy, e);
            }
        }
    }
}
