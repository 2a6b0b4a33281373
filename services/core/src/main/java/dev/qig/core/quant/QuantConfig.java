package dev.qig.core.quant;

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
 */
public record QuantConfig(
        String model,
        QuantScheme scheme,
        Method method,
        long version,
        long round,
        Map<GroupKey, GroupChoice> groups,
        Map<String, String> provenance) {

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

    public QuantConfig {
        Objects.requireNonNull(scheme, "scheme");
        Objects.requireNonNull(method, "method");
        groups = Collections.unmodifiableMap(new TreeMap<>(groups));
        provenance = Collections.unmodifiableMap(new TreeMap<>(provenance));
    }

    /** Plain round-to-nearest: no scales anywhere. */
    public static QuantConfig rtn(String model, QuantScheme scheme, Map<String, String> provenance) {
        return new QuantConfig(model, scheme, Method.RTN, 0, 0, Map.of(), provenance);
    }

    /** A stable id: model/scheme/method/version. */
    public String id() {
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
        return new QuantConfig(need(root, "model").asText(), scheme, Method.parse(need(root, "method").asText()),
                root.path("version").asLong(0), root.path("round").asLong(0), groups, provenance);
    }

    private static JsonNode need(JsonNode node, String field) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            throw new IllegalArgumentException("quant config lacks '" + field + "'");
        }
        return v;
    }
}
