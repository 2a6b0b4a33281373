package dev.qig.quant;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * A quantization config: for one model and scheme, the method that chose it and per equalization
 * group the alpha and scale vector, plus where it came from. What the aggregator publishes and the
 * evaluator applies; serialized as JSON.
 *
 * @param model model id (checkpoint location or name)
 * @param scheme quantization scheme (bits, group size, activation bits follow from it)
 * @param method the token weighting that chose the scales
 * @param version monotonically increasing per (model, scheme, method)
 * @param round calibration round that produced it
 * @param groups per group the choice; a group absent here is quantized without scales
 * @param provenance how it was produced
 * @param weights the quantized weights a method computed itself (GPTQ), or null when every decoder
 *     linear is rounded to nearest by the scheme's quantizer
 * @param inputScales for static schemes, per input site (the group whose input it is; O names o's
 *     input) the per-tensor activation scale of the linears reading it; empty otherwise
 */
public record QuantConfig(
        String model,
        QuantScheme scheme,
        Method method,
        long version,
        long round,
        Map<GroupKey, GroupChoice> groups,
        Map<String, String> provenance,
        WeightsRef weights,
        Map<GroupKey, Float> inputScales) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * The choice for one group.
     *
     * @param alpha the chosen alpha of the grid
     * @param scales s, one per input channel of the group
     * @param loss the method's loss at the chosen alpha
     * @param lossAtZero the method's loss at alpha = 0 (plain RTN), for comparison
     */
    public record GroupChoice(double alpha, float[] scales, double loss, double lossAtZero) {
        public GroupChoice {
            scales = scales.clone();
        }

        @Override
        public float[] scales() {
            return scales.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof GroupChoice g && g.alpha == alpha && Arrays.equals(g.scales, scales)
                    && Double.compare(g.loss, loss) == 0 && Double.compare(g.lossAtZero, lossAtZero) == 0;
        }

        @Override
        public int hashCode() {
            return Objects.hash(alpha, Arrays.hashCode(scales), loss, lossAtZero);
        }
    }

    /**
     * Where a config's quantized weights are ({@link QuantizedWeights}) and their SHA-256.
     *
     * @param location a file path; a relative one is relative to the folder of the config file that
     *     names it ({@link #read})
     * @param sha256 64 lower-case hex digits
     */
    public record WeightsRef(String location, String sha256) {
        public WeightsRef {
            Objects.requireNonNull(location, "location");
            Objects.requireNonNull(sha256, "sha256");
        }
    }

    public QuantConfig {
        Objects.requireNonNull(scheme, "scheme");
        Objects.requireNonNull(method, "method");
        groups = Collections.unmodifiableMap(new TreeMap<>(groups));
        provenance = Collections.unmodifiableMap(new TreeMap<>(provenance));
        inputScales = Collections.unmodifiableMap(new TreeMap<>(inputScales == null ? Map.of() : inputScales));
        inputScales.forEach((k, v) -> {
            if (!(v > 0) || Float.isInfinite(v)) {
                throw new IllegalArgumentException("input scale of " + k + " must be finite and > 0, got " + v);
            }
        });
        if (method.roundsWithGptq() && weights == null) {
            throw new IllegalArgumentException(method.id() + " configs carry their quantized weights");
        }
        if (weights != null && !groups.isEmpty()) {
            throw new IllegalArgumentException("a config carries either equalization scales or quantized weights, not both");
        }
    }

    /** A config whose weights are rounded to nearest by the scheme's quantizer (every scale-search method). */
    public QuantConfig(String model, QuantScheme scheme, Method method, long version, long round,
                       Map<GroupKey, GroupChoice> groups, Map<String, String> provenance) {
        this(model, scheme, method, version, round, groups, provenance, null, Map.of());
    }

    /** A config with quantized weights of its own (GPTQ) and no input scales. */
    public QuantConfig(String model, QuantScheme scheme, Method method, long version, long round,
                       Map<GroupKey, GroupChoice> groups, Map<String, String> provenance, WeightsRef weights) {
        this(model, scheme, method, version, round, groups, provenance, weights, Map.of());
    }

    /** Reads a config file; a relative weights location is resolved against the file's folder. */
    public static QuantConfig read(java.nio.file.Path file) throws java.io.IOException {
        QuantConfig c = fromJson(java.nio.file.Files.readString(file));
        java.nio.file.Path folder = file.toAbsolutePath().getParent();
        return c.weights == null ? c : c.withWeights(new WeightsRef(
                folder.resolve(c.weights.location()).toString(), c.weights.sha256()));
    }

    /** This config with other weights (e.g. the same file at another location). */
    public QuantConfig withWeights(WeightsRef ref) {
        return new QuantConfig(model, scheme, method, version, round, groups, provenance, ref, inputScales);
    }

    /** This config with static activation scales per input site. */
    public QuantConfig withInputScales(Map<GroupKey, Float> scales) {
        return new QuantConfig(model, scheme, method, version, round, groups, provenance, weights, scales);
    }

    /** Plain round-to-nearest: no scales anywhere. */
    public static QuantConfig rtn(String model, QuantScheme scheme, Map<String, String> provenance) {
        return new QuantConfig(model, scheme, Method.RTN, 0, 0, Map.of(), provenance);
    }

    /** A stable id: model/scheme/method/version. */
    public String id() {
        return id(model, scheme, method, version);
    }

    /** The id of a config: {@code model/scheme/method/v<version>}. */
    public static String id(String model, QuantScheme scheme, Method method, long version) {
        return model + "/" + scheme.id() + "/" + method.id() + "/v" + version;
    }

    public String toJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("model", model);
        root.put("scheme", scheme.id());
        root.put("method", method.id());
        root.put("version", version);
        root.put("round", round);
        root.put("weightBits", scheme.weightBits());
        root.put("groupSize", scheme.groupSize());
        root.put("symmetric", scheme.symmetric());
        root.put("activationBits", scheme.activationBits());
        ArrayNode list = root.putArray("groups");
        for (Map.Entry<GroupKey, GroupChoice> e : groups.entrySet()) {
            ObjectNode g = list.addObject();
            g.put("layer", e.getKey().layer());
            g.put("group", e.getKey().group().id());
            g.put("alpha", e.getValue().alpha());
            g.put("loss", e.getValue().loss());
            g.put("lossAtZero", e.getValue().lossAtZero());
            ArrayNode s = g.putArray("scales");
            for (float v : e.getValue().scales) {
                s.add(v);
            }
        }
        ObjectNode p = root.putObject("provenance");
        provenance.forEach(p::put);
        if (!inputScales.isEmpty()) {
            ArrayNode scales = root.putArray("inputScales");
            inputScales.forEach((k, v) -> {
                ObjectNode n = scales.addObject();
                n.put("layer", k.layer());
                n.put("group", k.group().id());
                n.put("scale", v);
            });
        }
        if (weights != null) {
            ObjectNode w = root.putObject("weights");
            w.put("location", weights.location());
            w.put("sha256", weights.sha256());
        }
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public static QuantConfig fromJson(String json) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("quant config is not valid JSON: " + e.getOriginalMessage(), e);
        }
        QuantScheme scheme = QuantScheme.parse(need(root, "scheme").asText());
        Map<GroupKey, GroupChoice> groups = new TreeMap<>();
        for (JsonNode g : root.path("groups")) {
            JsonNode s = need(g, "scales");
            float[] scales = new float[s.size()];
            for (int i = 0; i < scales.length; i++) {
                scales[i] = (float) s.get(i).asDouble();
            }
            GroupKey key = new GroupKey(need(g, "layer").asInt(), EqualizationGroup.parse(need(g, "group").asText()));
            if (groups.put(key, new GroupChoice(need(g, "alpha").asDouble(), scales, g.path("loss").asDouble(Double.NaN),
                    g.path("lossAtZero").asDouble(Double.NaN))) != null) {
                throw new IllegalArgumentException("quant config lists " + key + " twice");
            }
        }
        Map<String, String> provenance = new TreeMap<>();
        root.path("provenance").fields().forEachRemaining(e -> provenance.put(e.getKey(), e.getValue().asText()));
        JsonNode w = root.get("weights");
        WeightsRef weights = w == null || w.isNull() ? null
                : new WeightsRef(need(w, "location").asText(), need(w, "sha256").asText());
        Map<GroupKey, Float> inputScales = new TreeMap<>();
        for (JsonNode n : root.path("inputScales")) {
            inputScales.put(new GroupKey(need(n, "layer").asInt(), EqualizationGroup.parse(need(n, "group").asText())),
                    (float) need(n, "scale").asDouble());
        }
        return new QuantConfig(need(root, "model").asText(), scheme, Method.parse(need(root, "method").asText()),
                root.path("version").asLong(0), root.path("round").asLong(0), groups, provenance, weights, inputScales);
    }

    private static JsonNode need(JsonNode node, String field) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            throw new IllegalArgumentException("quant config lacks '" + field + "'");
        }
        return v;
    }
}
