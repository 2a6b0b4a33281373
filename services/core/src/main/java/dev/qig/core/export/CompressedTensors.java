package dev.qig.core.export;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qig.io.DType;
import dev.qig.io.TensorData;
import dev.qig.io.TensorSource;
import dev.qig.core.model.VisionLanguageModel;
import dev.qig.core.engine.ActivationQuantizer;
import dev.qig.quant.QuantScheme;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The compressed-tensors checkpoint format (github.com/vllm-project/compressed-tensors, followed as
 * of {@value #VERSION}: what llm-compressor writes and vLLM loads): the {@code quantization_config}
 * block of config.json, which scheme maps to which format, and a reader that turns a quantized
 * checkpoint's tensors back into float weights.
 *
 * <p>Per quantized linear {@code X}:
 * <ul>
 *   <li>{@code pack-quantized}: {@code X.weight_packed} int32 (out, ceil(in*b/32)) ({@link PackedIntegers}),
 *       {@code X.weight_scale} (out, in/g), {@code X.weight_shape} int64 [out, in] and, when
 *       asymmetric, {@code X.weight_zero_point} int32 packed along rows (ceil(out*b/32), in/g);</li>
 *   <li>{@code int-quantized}: {@code X.weight} int8 (out, in) and {@code X.weight_scale} (out, 1).</li>
 * </ul>
 * Integers are signed in [-2^(b-1), 2^(b-1)-1] and a weight is {@code (q - zero_point) * scale}.
 * Scales are written in float32 whatever the checkpoint's dtype, so the stored weights equal the
 * engine's fake-quantized ones bit for bit; a serving engine casts them to its own dtype on load.
 */
public final class CompressedTensors {

    /** The compressed-tensors release whose format is written. */
    public static final String VERSION = "0.18.0";
    /** The key of the block in config.json. */
    public static final String CONFIG_KEY = "quantization_config";
    static final String QUANT_METHOD = "compressed-tensors";

    static final String PACKED = ".weight_packed";
    static final String SCALE = ".weight_scale";
    /** Static activation schemes: the per-tensor scale of a linear's input. */
    static final String INPUT_SCALE = ".input_scale";
    static final String ZERO_POINT = ".weight_zero_point";
    static final String SHAPE = ".weight_shape";
    static final String WEIGHT = ".weight";

    /**
     * Module names left in full precision, as regular expressions that hold under both of
     * transformers' LLaVA key layouts and that vLLM does not rewrite: the vision tower, the
     * projector and the language model head (llm-compressor's LLaVA recipe ignores the same).
     */
    static final List<String> IGNORE = List.of("re:.*lm_head", "re:.*vision_tower.*", "re:.*multi_modal_projector.*");

    private static final ObjectMapper JSON = new ObjectMapper();

    private CompressedTensors() {}

    /**
     * The format a scheme is served in.
     *
     * @throws UnservableSchemeException for a scheme no serving engine loads
     */
    public static ServingFormat formatOf(QuantScheme scheme) {
        String why;
        if (scheme.quantizesActivations() && scheme.activationBits() != 8) {
            why = scheme.activationBits() + "-bit integer activations";
        } else if (scheme.quantizesActivations()) {
            if (!scheme.symmetric() || scheme.groupSize() != 0) {
                why = "activations quantized with asymmetric or grouped weights";
            } else if (scheme.staticActivations() && scheme.weightBits() != 8) {
                // vLLM matches static per-tensor input scales only with 8-bit weights (_is_static_tensor_w8a8).
                why = scheme.weightBits() + "-bit weights with static activation scales";
            } else {
                return ServingFormat.INT_QUANTIZED;
            }
        } else if (scheme.weightBits() == 4 || scheme.weightBits() == 8) {
            return ServingFormat.PACK_QUANTIZED;
        } else {
            why = scheme.weightBits() + "-bit " + (scheme.symmetric() ? "symmetric" : "asymmetric") + " weights";
        }
        throw new UnservableSchemeException("scheme " + scheme.id() + " has no serving format (" + why + "): engines load "
                + "compressed-tensors w4a16 (pack-quantized) and w8a8, w4a8, w8a8-static (int-quantized); export it fake-quantized "
                + "(float weights on its grid, labelled as such) to evaluate it anyway");
    }

    /** One config group of the block: the linears that share a quantization strategy. */
    record Group(List<String> targets, int bits, boolean symmetric, int groupSize, int activationBits) {
        /** 0 groupSize = one group per output row (compressed-tensors' "channel" strategy). */
        boolean channel() {
            return groupSize == 0;
        }
    }

    /** The {@code quantization_config} block, keys sorted as compressed-tensors writes them. */
    static ObjectNode quantizationConfig(ServingFormat format, List<Group> groups, boolean staticActivations) {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode configGroups = root.putObject("config_groups");
        for (int i = 0; i < groups.size(); i++) {
            Group g = groups.get(i);
            ObjectNode node = configGroups.putObject("group_" + i);
            node.put("format", format.id());
            if (g.activationBits() < 16) {
                ObjectNode input = node.putObject("input_activations");
                if (staticActivations) {
                    // One calibrated scale per linear input (X.input_scale), as llm-compressor's static W8A8 writes it.
                    args(input, g.activationBits(), true, null, "tensor", false);
                    input.put("observer", "minmax");
                } else {
                    args(input, g.activationBits(), true, null, "token", true);
                    input.putNull("observer");
                }
            } else {
                node.putNull("input_activations");
            }
            node.putNull("output_activations");
            node.putArray("targets").addAll(g.targets().stream().map(JSON.getNodeFactory()::textNode).toList());
            ObjectNode weights = node.putObject("weights");
            args(weights, g.bits(), g.symmetric(), g.channel() ? null : g.groupSize(), g.channel() ? "channel" : "group", false);
            weights.put("observer", "minmax");
        }
        root.put("format", format.id());
        root.putNull("global_compression_ratio");
        root.putArray("ignore").addAll(IGNORE.stream().map(JSON.getNodeFactory()::textNode).toList());
        root.putNull("kv_cache_scheme");
        root.put("quant_method", QUANT_METHOD);
        root.put("quantization_status", "compressed");
        root.putObject("sparsity_config");
        root.putObject("transform_config");
        root.put("version", VERSION);
        return sorted(root);
    }

    // scale_dtype and zp_dtype are left out: they exist since compressed-tensors 0.13, and a vLLM
    // bundling an older release rejects arguments it does not know (its QuantizationArgs forbid extras).
    private static void args(ObjectNode node, int bits, boolean symmetric, Integer groupSize, String strategy, boolean dynamic) {
        node.putNull("actorder");
        node.putNull("block_structure");
        node.put("dynamic", dynamic);
        if (groupSize == null) {
            node.putNull("group_size");
        } else {
            node.put("group_size", groupSize);
        }
        node.put("num_bits", bits);
        node.putObject("observer_kwargs");
        node.put("strategy", strategy);
        node.put("symmetric", symmetric);
        node.put("type", "int");
    }

    private static ObjectNode sorted(ObjectNode node) {
        ObjectNode out = JSON.createObjectNode();
        Map<String, JsonNode> byKey = new TreeMap<>();
        node.properties().forEach(e -> byKey.put(e.getKey(), e.getValue()));
        byKey.forEach((k, v) -> out.set(k, v instanceof ObjectNode o ? sorted(o) : v));
        return out;
    }

    /** True when a config.json carries a compressed-tensors block whose weights are stored compressed. */
    public static boolean isQuantized(JsonNode config) {
        JsonNode q = config.path(CONFIG_KEY);
        return q.isObject() && QUANT_METHOD.equals(q.path("quant_method").asText());
    }

    /**
     * Sets the input quantizer on every decoder linear when the checkpoint's config groups quantize
     * activations: dynamically per token (int-quantized W8A8, W4A8), or statically per tensor with
     * each linear's stored {@code input_scale} (the -static schemes): what a serving engine does at
     * run time, so a loaded checkpoint computes as it is served.
     *
     * @param stored the checkpoint's stored tensors (where the input scales are)
     * @param internalName maps a stored tensor name to the model's name of it
     * @throws IOException for activation quantization this project does not compute (grouped, float,
     *     asymmetric) or a static scale that is missing
     */
    public static void quantizeActivations(VisionLanguageModel model, JsonNode config, TensorSource stored,
                                           java.util.function.UnaryOperator<String> internalName) throws IOException {
        TreeSet<Integer> bits = new TreeSet<>();
        TreeSet<Boolean> dynamic = new TreeSet<>();
        for (JsonNode g : config.path(CONFIG_KEY).path("config_groups")) {
            JsonNode in = g.path("input_activations");
            if (in.isNull() || in.isMissingNode()) {
                bits.add(16);
            } else if ("int".equals(in.path("type").asText("int")) && in.path("symmetric").asBoolean(true)
                    && (in.path("dynamic").asBoolean() && "token".equals(in.path("strategy").asText())
                        || !in.path("dynamic").asBoolean() && "tensor".equals(in.path("strategy").asText()))) {
                bits.add(in.path("num_bits").asInt());
                dynamic.add(in.path("dynamic").asBoolean());
            } else {
                throw new IOException(CONFIG_KEY + ": input activations " + in + " are not supported (only symmetric "
                        + "integers, dynamic per token or static per tensor)");
            }
        }
        if (bits.size() > 1 || dynamic.size() > 1) {
            throw new IOException(CONFIG_KEY + ": config groups quantize activations differently " + bits + " " + dynamic);
        }
        if (bits.isEmpty() || bits.first() >= 16) {
            return;
        }
        int b = bits.first();
        if (dynamic.first()) {
            ActivationQuantizer quantizer = new ActivationQuantizer(b);
            model.decoderLinears().forEach(l -> l.setInputQuantizer(quantizer));
            return;
        }
        Map<String, Float> scales = new TreeMap<>();
        for (String name : stored.names()) {
            if (name.endsWith(INPUT_SCALE)) {
                String linear = internalName.apply(base(name, INPUT_SCALE) + WEIGHT);
                scales.put(linear.substring(0, linear.length() - WEIGHT.length()), stored.tensor(name).toFloatArray()[0]);
            }
        }
        for (dev.qig.core.model.QuantizableLinear l : model.decoderLinears()) {
            Float scale = scales.get(l.name());
            if (scale == null) {
                throw new IOException(CONFIG_KEY + " quantizes activations statically but " + l.name() + INPUT_SCALE
                        + " is missing");
            }
            l.setInputQuantizer(new dev.qig.core.engine.StaticActivationQuantizer(b, scale));
        }
    }

    private static String base(String name, String suffix) {
        return name.substring(0, name.length() - suffix.length());
    }

    /**
     * The tensors of a compressed-tensors checkpoint as float weights: every quantized linear's
     * {@code X.weight} appears as float32, decoded from its packed or int8 integers, scales and zero
     * points; the stored parts themselves are hidden. Other tensors pass through unchanged.
     *
     * @throws IOException naming the tensor when a quantized linear lacks a part or its parts disagree
     */
    public static TensorSource decoding(TensorSource stored, JsonNode config) throws IOException {
        JsonNode q = config.path(CONFIG_KEY);
        TreeSet<Integer> bits = new TreeSet<>();
        q.path("config_groups").forEach(g -> bits.add(g.path("weights").path("num_bits").asInt(-1)));
        if (bits.size() != 1 || bits.first() < 1 || bits.first() > 8) {
            throw new IOException(CONFIG_KEY + ": expected one integer weight width of 1-8 bits across config groups, found " + bits);
        }
        return new Decoding(stored, bits.first());
    }

    /** The float view of a compressed checkpoint. */
    private static final class Decoding implements TensorSource {
        private final TensorSource stored;
        private final int bits;
        /** Logical weight name -> the stored name it decodes from (a .weight_packed or an int8 .weight). */
        private final Map<String, String> quantized = new TreeMap<>();
        private final TreeSet<String> names = new TreeSet<>();

        Decoding(TensorSource stored, int bits) throws IOException {
            this.stored = stored;
            this.bits = bits;
            for (String name : stored.names()) {
                if (name.endsWith(PACKED)) {
                    quantized.put(base(name, PACKED) + WEIGHT, name);
                } else if (name.endsWith(WEIGHT) && stored.dtype(name) == DType.I8) {
                    quantized.put(name, name);
                }
            }
            for (Map.Entry<String, String> e : quantized.entrySet()) {
                String base = base(e.getKey(), WEIGHT);
                for (String part : e.getValue().endsWith(PACKED) ? List.of(SCALE, SHAPE) : List.of(SCALE)) {
                    if (!stored.names().contains(base + part)) {
                        throw new IOException(stored.file(e.getValue()) + ": " + base + part + " is missing (" + e.getValue() + " needs it)");
                    }
                }
            }
            for (String name : stored.names()) {
                boolean part = name.endsWith(PACKED) || name.endsWith(SHAPE) || name.endsWith(ZERO_POINT) || name.endsWith(INPUT_SCALE)
                        || name.endsWith(SCALE) && quantized.containsKey(base(name, SCALE) + WEIGHT);
                if (!part) {
                    names.add(name);
                }
            }
            names.addAll(quantized.keySet());
        }

        @Override
        public java.util.Set<String> names() {
            return Collections.unmodifiableSet(names);
        }

        @Override
        public long[] shape(String name) {
            String source = quantized.get(name);
            if (source == null) {
                return stored.shape(name);
            }
            if (source.endsWith(PACKED)) {
                try {
                    LongBuffer s = stored.tensor(base(name, WEIGHT) + SHAPE).data().asLongBuffer();
                    return new long[] {s.get(0), s.get(1)};
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
            return stored.shape(source);
        }

        @Override
        public DType dtype(String name) {
            return quantized.containsKey(name) ? DType.F32 : stored.dtype(name);
        }

        @Override
        public Path file(String name) {
            String source = quantized.get(name);
            return stored.file(source == null ? name : source);
        }

        @Override
        public TensorData tensor(String name) throws IOException {
            String source = quantized.get(name);
            if (source == null) {
                return stored.tensor(name);
            }
            String base = base(name, WEIGHT);
            long[] shape = shape(name);
            int rows = Math.toIntExact(shape[0]);
            int cols = Math.toIntExact(shape[1]);
            TensorData scaleTensor = stored.tensor(base + SCALE);
            float[] scales = scaleTensor.toFloatArray();
            long[] scaleShape = scaleTensor.shape();
            int groups = Math.toIntExact(scaleShape[1]);
            if (scaleShape[0] != rows || groups < 1 || cols % groups != 0) {
                throw new IOException(stored.file(base + SCALE) + ": " + base + SCALE + " has shape " + java.util.Arrays.toString(scaleShape)
                        + ", which does not divide a weight of " + rows + " x " + cols + " into groups");
            }
            int groupSize = cols / groups;
            byte[] values;
            byte[] zeros = null;
            if (source.endsWith(PACKED)) {
                values = PackedIntegers.unpackRows(ints(stored.tensor(source)), rows, cols, bits);
                if (stored.names().contains(base + ZERO_POINT)) {
                    zeros = PackedIntegers.unpackColumns(ints(stored.tensor(base + ZERO_POINT)), rows, groups, bits);
                }
            } else {
                ByteBuffer b = stored.tensor(source).data();
                values = new byte[rows * cols];
                b.get(values);
            }
            float[] out = new float[rows * cols];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    int g = r * groups + c / groupSize;
                    int v = zeros == null ? values[r * cols + c] : values[r * cols + c] - zeros[g];
                    out[r * cols + c] = v * scales[g];
                }
            }
            return TensorData.ofFloats(name, shape, out);
        }

        /** The stored source belongs to whoever opened it. */
        @Override
        public void close() {
        }

        private static int[] ints(TensorData t) throws IOException {
            if (t.dtype() != DType.I32) {
                throw new IOException(t.name() + " is " + t.dtype() + ", not I32");
            }
            IntBuffer b = t.data().asIntBuffer();
            int[] out = new int[b.remaining()];
            b.get(out);
            return out;
        }
    }
}
