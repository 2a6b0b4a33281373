package dev.qig.kafka.records;

import dev.qig.data.VqaSample;
import dev.qig.quant.CalibrationPlan;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.CalibrationSums;
import dev.qig.quant.EqualizationGroup;
import dev.qig.quant.GroupErrors;
import dev.qig.quant.GroupKey;
import dev.qig.quant.GroupStatistics;
import dev.qig.quant.IgRule;
import dev.qig.quant.InputRange;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.quant.QuantScheme;
import dev.qig.quant.GptqOptions;
import dev.qig.schemas.CalibrationSample;
import dev.qig.schemas.EngineSettings;
import dev.qig.schemas.GptqJob;
import dev.qig.schemas.GroupChoice;
import dev.qig.schemas.LayerStats;
import dev.qig.schemas.PartialsKind;
import dev.qig.schemas.PlanGroup;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The mapping between the calibration objects (package {@code dev.qig.quant}) and the records
 * several services share (samples, engine settings, partial sums, plans, configs, GPTQ jobs): one
 * place for each contract between services. Records that one service builds from its own state (the
 * aggregator's stores and drift events, the evaluator's results) are built where they are computed.
 * Per-sample partial sums travel as plain
 * doubles (one sample's value of a sum is one double, exactly); only their sums need
 * {@link dev.qig.quant.ExactSum}.
 */
public final class Records {

    private Records() {}

    // --- samples ---

    /**
     * A labelled sample as the samples topic carries it: the image inline as PNG bytes, no model
     * named (any served model takes it); callers change what they need on the returned builder.
     */
    public static CalibrationSample.Builder calibrationSample(VqaSample sample, String id, String source, Instant eventTime) {
        return CalibrationSample.newBuilder()
                .setSampleId(id)
                .setImage(ByteBuffer.wrap(sample.toPng()))
                .setImageUri(null)
                .setPrompt(sample.question())
                .setAnswer(sample.answer())
                .setDomain(sample.domain().id())
                .setSource(source)
                .setEventTime(eventTime)
                .setModel(null);
    }

    // --- engine settings ---

    public static EngineSettings settingsRecord(CalibrationSettings s, Set<Method> methods) {
        return settingsRecord(s, methods, GptqOptions.DEFAULT);
    }

    /** The record of engine settings; {@code gptq} matters to the gptq and qig-gptq methods only. */
    public static EngineSettings settingsRecord(CalibrationSettings s, Set<Method> methods, GptqOptions gptq) {
        List<String> ids = new ArrayList<>();
        for (Method m : EnumSet.copyOf(methods)) {
            ids.add(m.id());
        }
        return EngineSettings.newBuilder()
                .setBehaviour(s.behaviour().name().toLowerCase(Locale.ROOT))
                .setIgSteps(s.igSteps())
                .setIgRule(s.igRule().id())
                .setIqrClip(s.iqrClip())
                .setCodeFaithfulCounterBug(s.codeFaithfulCounterBug())
                .setMethods(ids)
                .setGptqDamp(gptq.damp())
                .setGptqActOrder(gptq.actOrder())
                .build();
    }

    /** GPTQ's damping and column order from a settings record. */
    public static GptqOptions gptqOptions(EngineSettings r) {
        return new GptqOptions(r.getGptqDamp(), r.getGptqActOrder());
    }

    /** Engine settings for a scheme from a record; chunking and batch size (which do not change results) at their defaults. */
    public static CalibrationSettings settings(EngineSettings r, QuantScheme scheme) {
        return CalibrationSettings.builder(scheme)
                .behaviour(CalibrationSettings.Behaviour.valueOf(r.getBehaviour().toUpperCase(Locale.ROOT)))
                .igSteps(r.getIgSteps())
                .igRule(IgRule.parse(r.getIgRule()))
                .iqrClip(r.getIqrClip())
                .codeFaithfulCounterBug(r.getCodeFaithfulCounterBug())
                .build();
    }

    public static Set<Method> methods(EngineSettings r) {
        Set<Method> out = EnumSet.noneOf(Method.class);
        r.getMethods().forEach(m -> out.add(Method.parse(m)));
        return out;
    }

    // --- partial sums ---

    /** Default of the attributor's largest LayerStats record (stats.record.max.bytes): 256 KiB. */
    public static final int DEFAULT_STATS_RECORD_BYTES = 256 << 10;

    /**
     * One sample's sums as records of at most about {@code maxBytes} each, cut between decoder layers
     * (one record when they fit, as the test-bed model's do; a layer larger than the limit gets a
     * record of its own). Each record names its part and the number of parts; together they hold
     * every group exactly once.
     */
    public static List<LayerStats> layerStatsParts(String sampleId, RoundKey key, EngineSettings settings, long planVersion,
                                                   CalibrationSums sums, String domain, Instant eventTime, String attributor,
                                                   int maxBytes) {
        // Avro writes a double in 8 bytes; a group adds its name, counts and array headers (under 64 bytes).
        TreeMap<Integer, Long> layerBytes = new TreeMap<>();
        sums.statistics().forEach((k, s) -> layerBytes.merge(k.layer(), 64L + 8L * s.channels(), Long::sum));
        sums.errors().forEach((k, e) -> layerBytes.merge(k.layer(), 64L + 8L * 4 * e.eAll().length, Long::sum));
        sums.ranges().forEach((k, r) -> layerBytes.merge(k.layer(), 64L + 4L * r.channels(), Long::sum));
        sums.vision().forEach((k, s) -> layerBytes.merge(k.layer(), 64L + 8L * s.channels(), Long::sum));
        long budget = Math.max(1, maxBytes - 1024L); // the sample id, settings and other fields
        List<List<Integer>> cuts = new ArrayList<>();
        List<Integer> current = new ArrayList<>();
        long size = 0;
        for (Map.Entry<Integer, Long> e : layerBytes.entrySet()) {
            if (!current.isEmpty() && size + e.getValue() > budget) {
                cuts.add(current);
                current = new ArrayList<>();
                size = 0;
            }
            current.add(e.getKey());
            size += e.getValue();
        }
        if (!current.isEmpty() || cuts.isEmpty()) {
            cuts.add(current);
        }
        List<LayerStats> out = new ArrayList<>(cuts.size());
        for (int i = 0; i < cuts.size(); i++) {
            java.util.Set<Integer> layers = new java.util.HashSet<>(cuts.get(i));
            Map<GroupKey, GroupStatistics> statistics = new TreeMap<>();
            sums.statistics().forEach((k, s) -> {
                if (layers.contains(k.layer())) {
                    statistics.put(k, s);
                }
            });
            Map<GroupKey, GroupErrors> errors = new TreeMap<>();
            sums.errors().forEach((k, e) -> {
                if (layers.contains(k.layer())) {
                    errors.put(k, e);
                }
            });
            Map<GroupKey, InputRange> ranges = new TreeMap<>();
            sums.ranges().forEach((k, r) -> {
                if (layers.contains(k.layer())) {
                    ranges.put(k, r);
                }
            });
            Map<GroupKey, GroupStatistics> vision = new TreeMap<>();
            sums.vision().forEach((k, s) -> {
                if (layers.contains(k.layer())) {
                    vision.put(k, s);
                }
            });
            LayerStats part = layerStats(sampleId, key, settings, planVersion,
                    CalibrationSums.ofSample(statistics, errors, ranges, vision), domain, eventTime, attributor);
            // The kind is the whole sample's: a part of a search sample is a search part even if its layers had no errors.
            part.setKind(sums.hasErrors() ? PartialsKind.SEARCH : PartialsKind.STATISTICS);
            part.setPart(i);
            part.setParts(cuts.size());
            out.add(part);
        }
        return out;
    }

    /** The record of one sample's sums (statistics only when {@code sums} has no errors). */
    public static LayerStats layerStats(String sampleId, RoundKey key, EngineSettings settings, long planVersion,
                                        CalibrationSums sums, String domain, Instant eventTime, String attributor) {
        List<dev.qig.schemas.GroupStatistics> statistics = statisticsRecords(sums.statistics());
        List<dev.qig.schemas.GroupErrors> errors = new ArrayList<>();
        sums.errors().forEach((k, e) -> errors.add(dev.qig.schemas.GroupErrors.newBuilder()
                .setLayer(k.layer()).setGroup(k.group().id())
                .setEAll(doubles(e.eAll())).setEAnswer(doubles(e.eAnswer())).setEVision(doubles(e.eVision()))
                .setEQig(doubles(e.eQig()))
                .setNAll(e.nAll()).setNAnswer(e.nAnswer()).setNVision(e.nVision())
                .setLambdaSum(e.lambdaSum().doubleValue())
                .build()));
        List<dev.qig.schemas.InputRange> ranges = new ArrayList<>();
        sums.ranges().forEach((k, r) -> ranges.add(rangeRecord(k, r)));
        return LayerStats.newBuilder()
                .setRanges(ranges)
                .setVision(statisticsRecords(sums.vision()))
                .setSampleId(sampleId)
                .setModel(key.model())
                .setScheme(key.scheme().id())
                .setSettings(settings)
                .setPlanVersion(planVersion)
                .setKind(sums.hasErrors() ? PartialsKind.SEARCH : PartialsKind.STATISTICS)
                .setStatistics(statistics)
                .setErrors(errors)
                .setDomain(domain)
                .setEventTime(eventTime)
                .setAttributor(attributor)
                .build();
    }

    /**
     * One sample's sums from its record.
     *
     * @throws IllegalArgumentException if a group or array is malformed or a value is not finite
     */
    public static CalibrationSums sums(LayerStats r) {
        Map<GroupKey, GroupStatistics> statistics = statistics(r.getStatistics(), "statistics");
        Map<GroupKey, GroupErrors> errors = new TreeMap<>();
        for (dev.qig.schemas.GroupErrors e : r.getErrors()) {
            GroupKey k = groupKey(e.getLayer(), e.getGroup());
            if (errors.put(k, finite(k, () -> GroupErrors.of(primitive(e.getEAll()), primitive(e.getEAnswer()),
                    primitive(e.getEVision()), primitive(e.getEQig()), e.getNAll(), e.getNAnswer(), e.getNVision(),
                    e.getLambdaSum()))) != null) {
                throw new IllegalArgumentException("errors of " + k + " listed twice");
            }
        }
        Map<GroupKey, InputRange> ranges = new TreeMap<>();
        for (dev.qig.schemas.InputRange g : r.getRanges()) {
            GroupKey k = groupKey(g.getLayer(), g.getGroup());
            if (ranges.put(k, range(g)) != null) {
                throw new IllegalArgumentException("range of " + k + " listed twice");
            }
        }
        return CalibrationSums.ofSample(statistics, errors, ranges, statistics(r.getVision(), "vision statistics"));
    }

    private static List<dev.qig.schemas.GroupStatistics> statisticsRecords(Map<GroupKey, GroupStatistics> statistics) {
        List<dev.qig.schemas.GroupStatistics> out = new ArrayList<>();
        statistics.forEach((k, s) -> out.add(dev.qig.schemas.GroupStatistics.newBuilder()
                .setLayer(k.layer()).setGroup(k.group().id())
                .setAbsSum(doubles(s.absSum()))
                .setTokens(s.tokens())
                .setGradVisionSum(s.gradVisionSum().doubleValue()).setGradVisionCount(s.gradVisionCount())
                .setGradAnswerSum(s.gradAnswerSum().doubleValue()).setGradAnswerCount(s.gradAnswerCount())
                .build()));
        return out;
    }

    private static Map<GroupKey, GroupStatistics> statistics(List<dev.qig.schemas.GroupStatistics> records, String what) {
        Map<GroupKey, GroupStatistics> out = new TreeMap<>();
        for (dev.qig.schemas.GroupStatistics s : records) {
            GroupKey k = groupKey(s.getLayer(), s.getGroup());
            if (out.put(k, finite(k, () -> GroupStatistics.of(primitive(s.getAbsSum()), s.getTokens(),
                    s.getGradVisionSum(), s.getGradVisionCount(), s.getGradAnswerSum(), s.getGradAnswerCount()))) != null) {
                throw new IllegalArgumentException(what + " of " + k + " listed twice");
            }
        }
        return out;
    }

    /** The record of one input site's range. */
    public static dev.qig.schemas.InputRange rangeRecord(GroupKey k, InputRange r) {
        return dev.qig.schemas.InputRange.newBuilder().setLayer(k.layer()).setGroup(k.group().id())
                .setChannelAbsMax(floats(r.channelAbsMax())).build();
    }

    /**
     * An input site's range from its record.
     *
     * @throws IllegalArgumentException if a value is negative or not finite
     */
    public static InputRange range(dev.qig.schemas.InputRange r) {
        GroupKey k = groupKey(r.getLayer(), r.getGroup());
        return finite(k, () -> InputRange.of(primitiveFloats(r.getChannelAbsMax())));
    }

    /** Provenance key of a streamed config: its round's samples per domain, {@code clean=12,cluttered=20}. */
    public static final String PROVENANCE_DOMAINS = "domains";
    /**
     * Provenance key of a streamed config: why the plan it was calibrated under was built
     * ({@code statistics}, {@code drift} or {@code refresh}; CalibrationPlan.reason).
     */
    public static final String PROVENANCE_PLAN_REASON = "planReason";

    /** The domains of a {@link #PROVENANCE_DOMAINS} value that had samples, in the order listed; empty when absent. */
    public static List<String> provenanceDomains(Map<String, String> provenance) {
        List<String> out = new ArrayList<>();
        String v = provenance.get(PROVENANCE_DOMAINS);
        if (v == null || v.isBlank()) {
            return out;
        }
        for (String part : v.split(",")) {
            String[] kv = part.split("=", 2);
            if (kv.length == 2 && !kv[0].isBlank()) {
                try {
                    if (Long.parseLong(kv[1].strip()) > 0) {
                        out.add(kv[0].strip());
                    }
                } catch (NumberFormatException e) {
                    // not a count: not a domain of the round
                }
            }
        }
        return out;
    }

    // --- plans ---

    public static dev.qig.schemas.CalibrationPlan planRecord(CalibrationPlan plan, RoundKey key, EngineSettings settings,
                                                             long fromRound, long samples, Instant createdAt) {
        List<PlanGroup> groups = new ArrayList<>();
        plan.mu().forEach((k, mu) -> {
            Double r = plan.gradientRatios().get(k);
            groups.add(PlanGroup.newBuilder().setLayer(k.layer()).setGroup(k.group().id()).setMu(floats(mu))
                    .setGradientRatio(r == null || r.isNaN() ? null : r).build());
        });
        List<PlanGroup> vision = new ArrayList<>();
        plan.visionMu().forEach((k, mu) -> vision.add(PlanGroup.newBuilder().setLayer(k.layer()).setGroup(k.group().id())
                .setMu(floats(mu)).setGradientRatio(null).build()));
        return dev.qig.schemas.CalibrationPlan.newBuilder()
                .setVisionGroups(vision)
                .setModel(key.model())
                .setScheme(key.scheme().id())
                .setSettings(settings)
                .setVersion(plan.version())
                .setFromRound(fromRound)
                .setSamples(samples)
                .setGroups(groups)
                .setDistortion(plan.distortion() == null ? null
                        : configRecord(plan.distortion(), settings, Long.parseLong(plan.distortion().provenance()
                                .getOrDefault("planVersion", "0")), Long.parseLong(plan.distortion().provenance()
                                .getOrDefault("samples", "0")), createdAt))
                .setCreatedAt(createdAt)
                .build();
    }

    public static CalibrationPlan plan(dev.qig.schemas.CalibrationPlan r) {
        Map<GroupKey, float[]> mu = new TreeMap<>();
        Map<GroupKey, Double> ratios = new TreeMap<>();
        for (PlanGroup g : r.getGroups()) {
            GroupKey k = groupKey(g.getLayer(), g.getGroup());
            mu.put(k, primitiveFloats(g.getMu()));
            ratios.put(k, g.getGradientRatio() == null ? Double.NaN : g.getGradientRatio());
        }
        Map<GroupKey, float[]> vision = new TreeMap<>();
        for (PlanGroup g : r.getVisionGroups()) {
            vision.put(groupKey(g.getLayer(), g.getGroup()), primitiveFloats(g.getMu()));
        }
        return new CalibrationPlan(r.getVersion(), mu, ratios, r.getDistortion() == null ? null : config(r.getDistortion()),
                vision);
    }

    // --- configs ---

    public static dev.qig.schemas.QuantConfig configRecord(QuantConfig c, EngineSettings settings, long planVersion,
                                                           long samples, Instant createdAt) {
        List<GroupChoice> groups = new ArrayList<>();
        c.groups().forEach((k, g) -> groups.add(GroupChoice.newBuilder().setLayer(k.layer()).setGroup(k.group().id())
                .setAlpha(g.alpha()).setScales(floats(g.scales())).setLoss(g.loss()).setLossAtZero(g.lossAtZero())
                .build()));
        QuantScheme s = c.scheme();
        return dev.qig.schemas.QuantConfig.newBuilder()
                .setConfigId(c.id())
                .setModel(c.model())
                .setScheme(s.id())
                .setWeightBits(s.weightBits())
                .setGroupSize(s.groupSize())
                .setSymmetric(s.symmetric())
                .setActivationBits(s.activationBits())
                .setMethod(c.method().id())
                .setVersion(c.version())
                .setRound(c.round())
                .setPlanVersion(planVersion)
                .setSamples(samples)
                .setSettings(settings)
                .setGroups(groups)
                .setProvenance(new TreeMap<>(c.provenance()))
                .setInputScales(inputScaleRecords(c.inputScales()))
                .setWeights(c.weights() == null ? null : dev.qig.schemas.WeightsRef.newBuilder()
                        .setLocation(c.weights().location()).setSha256(c.weights().sha256()).build())
                .setCreatedAt(createdAt)
                .build();
    }

    public static QuantConfig config(dev.qig.schemas.QuantConfig r) {
        Map<GroupKey, QuantConfig.GroupChoice> groups = new TreeMap<>();
        for (GroupChoice g : r.getGroups()) {
            groups.put(groupKey(g.getLayer(), g.getGroup()), new QuantConfig.GroupChoice(g.getAlpha(),
                    primitiveFloats(g.getScales()), g.getLoss(), g.getLossAtZero()));
        }
        Map<String, String> provenance = new TreeMap<>(r.getProvenance());
        provenance.putIfAbsent("planVersion", Long.toString(r.getPlanVersion()));
        provenance.putIfAbsent("samples", Long.toString(r.getSamples()));
        Map<GroupKey, Float> inputScales = inputScales(r.getInputScales());
        QuantConfig.WeightsRef weights = r.getWeights() == null ? null
                : new QuantConfig.WeightsRef(r.getWeights().getLocation(), r.getWeights().getSha256());
        return new QuantConfig(r.getModel(), QuantScheme.parse(r.getScheme()), Method.parse(r.getMethod()), r.getVersion(),
                r.getRound(), groups, provenance, weights, inputScales);
    }

    /** Static activation scales as records, in site order. */
    public static List<dev.qig.schemas.InputScale> inputScaleRecords(Map<GroupKey, Float> scales) {
        return new TreeMap<>(scales).entrySet().stream().map(e -> dev.qig.schemas.InputScale.newBuilder()
                .setLayer(e.getKey().layer()).setGroup(e.getKey().group().id()).setScale(e.getValue()).build()).toList();
    }

    public static Map<GroupKey, Float> inputScales(List<dev.qig.schemas.InputScale> records) {
        Map<GroupKey, Float> out = new TreeMap<>();
        for (dev.qig.schemas.InputScale i : records) {
            out.put(groupKey(i.getLayer(), i.getGroup()), i.getScale());
        }
        return out;
    }

    // --- GPTQ jobs ---

    /**
     * The job of a calibrating round for a GPTQ method: its samples in sorted order, and what the
     * config takes over from the round (static input scales, provenance, time).
     */
    public static GptqJob gptqJob(RoundKey key, Method method, EngineSettings settings, long round, long planVersion,
                                  java.util.Collection<String> sampleIds, Map<GroupKey, Float> inputScales,
                                  Map<String, String> provenance, Instant createdAt) {
        if (!method.roundsWithGptq()) {
            throw new IllegalArgumentException("method " + method.id() + " is not a GPTQ method");
        }
        return GptqJob.newBuilder()
                .setJobId(QuantConfig.id(key.model(), key.scheme(), method, round))
                .setModel(key.model())
                .setScheme(key.scheme().id())
                .setMethod(method.id())
                .setSettings(settings)
                .setRound(round)
                .setPlanVersion(planVersion)
                .setSampleIds(new java.util.TreeSet<>(sampleIds).stream().toList())
                .setInputScales(inputScaleRecords(inputScales))
                .setProvenance(new TreeMap<>(provenance))
                .setCreatedAt(createdAt)
                .build();
    }

    /**
     * The config a job's weights make: the job's round, settings, provenance (with GPTQ's options)
     * and time, so that the same job always makes the same record.
     */
    public static dev.qig.schemas.QuantConfig gptqConfigRecord(GptqJob job, QuantConfig.WeightsRef weights) {
        Map<String, String> provenance = new TreeMap<>(job.getProvenance());
        GptqOptions options = gptqOptions(job.getSettings());
        provenance.put("gptqDamp", Double.toString(options.damp()));
        provenance.put("gptqActOrder", Boolean.toString(options.actOrder()));
        provenance.put("gptqJob", job.getJobId());
        QuantConfig c = new QuantConfig(job.getModel(), QuantScheme.parse(job.getScheme()), Method.parse(job.getMethod()),
                job.getRound(), job.getRound(), Map.of(), provenance, weights, inputScales(job.getInputScales()));
        return configRecord(c, job.getSettings(), job.getPlanVersion(), job.getSampleIds().size(), job.getCreatedAt());
    }

    // --- helpers ---

    public static GroupKey groupKey(int layer, String group) {
        if (layer < 0) {
            throw new IllegalArgumentException("negative layer " + layer);
        }
        return new GroupKey(layer, EqualizationGroup.parse(group));
    }

    private static <T> T finite(GroupKey k, java.util.function.Supplier<T> build) {
        try {
            return build.get();
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(k + ": " + e.getMessage(), e);
        }
    }

    private static List<Double> doubles(dev.qig.quant.ExactSum[] sums) {
        List<Double> out = new ArrayList<>(sums.length);
        for (dev.qig.quant.ExactSum s : sums) {
            out.add(s.doubleValue());
        }
        return out;
    }

    private static double[] primitive(List<Double> values) {
        double[] out = new double[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = values.get(i);
        }
        return out;
    }

    public static List<Float> floats(float[] values) {
        List<Float> out = new ArrayList<>(values.length);
        for (float v : values) {
            out.add(v);
        }
        return out;
    }

    public static float[] primitiveFloats(List<Float> values) {
        float[] out = new float[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = values.get(i);
        }
        return out;
    }
}
