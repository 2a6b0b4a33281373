package dev.qig.attributor;

import dev.qig.core.model.Checkpoint;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.IgRule;
import dev.qig.quant.Method;
import dev.qig.quant.QuantScheme;
import dev.qig.quant.GptqOptions;
import dev.qig.kafka.config.ServiceConfig;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.EngineSettings;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.common.config.ConfigException;

/** Configuration of the attributor: what it serves (models, schemes, methods), how it calibrates, and its limits on input. */
public final class AttributorConfig extends ServiceConfig {

    /** Consumer group of the attributors; every instance of one group serves the same models. */
    public static final String GROUP_ID = ConsumerConfig.GROUP_ID_CONFIG;
    /** Checkpoint locations of the models served (directories or classpath:); each worker loads its own copy. */
    public static final String MODELS = "models";
    /** Quantization schemes calibrated for every model. */
    public static final String SCHEMES = "schemes";
    /** Methods calibrated: the scale searches' sums in one pass; GPTQ's as round jobs. */
    public static final String METHODS = "methods";
    /** GPTQ's damping (a fraction of the mean of diag H). */
    public static final String GPTQ_DAMP = "gptq.damp";
    /** GPTQ visits columns by descending diag(H). */
    public static final String GPTQ_ACT_ORDER = "gptq.act.order";
    /** Run the GPTQ round jobs in this process. */
    public static final String GPTQ_JOBS_ENABLED = "gptq.jobs.enabled";
    /** Consumer group of the GPTQ job workers. */
    public static final String GPTQ_GROUP_ID = "gptq.group.id";
    /** Where GPTQ jobs write their quantized weights; evaluators and publishers read them there. */
    public static final String GPTQ_WEIGHTS_DIR = "gptq.weights.dir";
    /** reference_code or paper: the integrated-gradients baseline (docs/quantization-engine.md). */
    public static final String CALIBRATION_BEHAVIOUR = "calibration.behaviour";
    /** Interpolation points of the integrated gradients. */
    public static final String CALIBRATION_IG_STEPS = "calibration.ig.steps";
    /** Quadrature of the integrated gradients: endpoints (the method) or midpoint. */
    public static final String CALIBRATION_IG_RULE = "calibration.ig.rule";
    /** Interpolation points per pass through a module (memory only; results do not change). */
    public static final String CALIBRATION_IG_CHUNK_STEPS = "calibration.ig.chunk.steps";
    /** Clip QIG token scores at the IQR fences. */
    public static final String CALIBRATION_IQR_CLIP = "calibration.iqr.clip";
    /** Reproduce the reference code's uniform weights for its first five W3A16 group searches. */
    public static final String CALIBRATION_CODE_FAITHFUL_COUNTER_BUG = "calibration.code.faithful.counter.bug";
    /** Samples per engine pass and per poll. */
    public static final String BATCH_SIZE = "batch.size";
    /** How long a worker waits for a batch to fill before it runs a partial one. */
    public static final String BATCH_LINGER_MS = "batch.linger.ms";
    /** Worker threads, each a consumer of the group with its own model copies. */
    public static final String WORKERS = "workers";
    /** Prompts longer than this many characters are refused before tokenizing. */
    public static final String PROMPT_MAX_CHARS = "prompt.max.chars";
    /** Images larger than this many bytes are refused. */
    public static final String IMAGE_MAX_BYTES = "image.max.bytes";
    /** Write TokenAttribution records (QIG token weights per group) besides the partial sums. */
    public static final String ATTRIBUTIONS_ENABLED = "attributions.enabled";
    /** Largest LayerStats record: a sample's sums are cut by decoder layer into records of at most this size. */
    public static final String STATS_RECORD_MAX_BYTES = "stats.record.max.bytes";

    /** The default {@value ServiceConfig#METRICS_PORT} of the attributor (one port per service: 9401-9404). */
    public static final int DEFAULT_METRICS_PORT = 9402;

    private static final ConfigDef DEFINITION = commonDefinition(DEFAULT_METRICS_PORT, Topics.Topic.SAMPLES, Topics.Topic.LAYER_STATS, Topics.Topic.TOKEN_ATTRIBUTIONS,
            Topics.Topic.PLANS, Topics.Topic.GPTQ_JOBS, Topics.Topic.CONFIGS, Topics.Topic.DLQ)
            .define(GROUP_ID, Type.STRING, "qig-attributor", new ConfigDef.NonEmptyString(), Importance.HIGH,
                    "Consumer group of the attributors. Instances of a group share the samples topic's partitions "
                            + "and must serve the same models, schemes and settings.")
            .define(MODELS, Type.LIST, List.of(Checkpoint.SHIPPED), NON_EMPTY_LIST, Importance.HIGH,
                    "Checkpoint locations of the models served: directories or classpath:<folder>. Every record "
                            + "names a model by its content id, not by this location.")
            .define(SCHEMES, Type.LIST, List.of(QuantScheme.W3A16.id()), NON_EMPTY_LIST, Importance.HIGH,
                    "Quantization schemes calibrated for every model: " + String.join(", ", java.util.Arrays.stream(QuantScheme.values()).map(QuantScheme::id).toList()) + ".")
            .define(METHODS, Type.LIST, List.of("rtn", "awq", "mbq", "qig"), NON_EMPTY_LIST, Importance.MEDIUM,
                    "Methods calibrated: " + ids(Method.values()) + ". The scale searches' sums come from one pass "
                            + "per sample (MBQ adds a gradient pass, QIG the integrated gradients); gptq and qig-gptq "
                            + "run as a job per calibrating round (gptq.jobs.enabled), qig-gptq computing QIG's token "
                            + "weights on the round's samples first.")
            .define(GPTQ_DAMP, Type.DOUBLE, GptqOptions.DEFAULT.damp(), ConfigDef.Range.between(0, 0.999), Importance.LOW,
                    "GPTQ's damping, a fraction of the mean of diag(H) added to the diagonal (the reference's 0.01). "
                            + "Part of the round key when not the default.")
            .define(GPTQ_ACT_ORDER, Type.BOOLEAN, GptqOptions.DEFAULT.actOrder(), Importance.LOW,
                    "GPTQ visits columns by descending diag(H) (the reference's --act-order; such configs export "
                            + "fake-quantized only). Part of the round key when set.")
            .define(GPTQ_JOBS_ENABLED, Type.BOOLEAN, true, Importance.MEDIUM,
                    "Run GPTQ round jobs (topic.gptq.jobs) in this process, one at a time on a model copy of its "
                            + "own, as a member of gptq.group.id. Needs the samples topic to keep a round's samples.")
            .define(GPTQ_GROUP_ID, Type.STRING, "qig-gptq", new ConfigDef.NonEmptyString(), Importance.LOW,
                    "Consumer group of the GPTQ job workers; a job is run by one member, again after a crash.")
            .define(GPTQ_WEIGHTS_DIR, Type.STRING, "gptq-weights", new ConfigDef.NonEmptyString(), Importance.MEDIUM,
                    "Folder the GPTQ jobs write their quantized weights to (relative to the working directory unless "
                            + "absolute), one file per content hash; the configs name them by absolute path, so "
                            + "evaluators and publishers must see the folder at the same path (a shared volume).")
            .define(CALIBRATION_BEHAVIOUR, Type.STRING, "reference_code",
                    ConfigDef.ValidString.in("reference_code", "paper"), Importance.LOW,
                    "Where QIG's integrated-gradients path starts: reference_code (the reference code) or paper "
                            + "(always the quantized input).")
            .define(CALIBRATION_IG_STEPS, Type.INT, 16, ConfigDef.Range.atLeast(1), Importance.LOW,
                    "Interpolation points of the integrated gradients (the method: 32 with the endpoints rule).")
            .define(CALIBRATION_IG_RULE, Type.STRING, "midpoint", ConfigDef.ValidString.in("endpoints", "midpoint"),
                    Importance.LOW, "Quadrature of the integrated gradients: midpoint ((k+1/2)/n; 16 of them are, in the worst "
                            + "case of each group kind, closer to the integral than the method's 32) or endpoints (the method: k/(n-1), both ends included).")
            .define(CALIBRATION_IG_CHUNK_STEPS, Type.INT, 8, ConfigDef.Range.atLeast(1), Importance.LOW,
                    "Interpolation points per pass through a module; trades memory for speed, results do not change.")
            .define(CALIBRATION_IQR_CLIP, Type.BOOLEAN, true, Importance.LOW,
                    "Clip QIG token scores at the interquartile-range fences (the paper's choice).")
            .define(CALIBRATION_CODE_FAITHFUL_COUNTER_BUG, Type.BOOLEAN, false, Importance.LOW,
                    "Reproduce the reference code's uniform weights for its first five W3A16 group searches.")
            .define(BATCH_SIZE, Type.INT, 8, ConfigDef.Range.between(1, 256), Importance.MEDIUM,
                    "Samples per engine pass and per poll of the samples topic. Results do not depend on it.")
            .define(BATCH_LINGER_MS, Type.LONG, 500L, ConfigDef.Range.atLeast(0), Importance.LOW,
                    "How long a worker keeps polling for a full batch after its first sample before it runs a "
                            + "partial one (milliseconds); small batches use the engine less well.")
            .define(WORKERS, Type.INT, 1, ConfigDef.Range.between(1, 64), Importance.MEDIUM,
                    "Worker threads in this process, each a consumer of the group with its own model copies; their "
                            + "gradient passes take turns (one gradient recorder per JVM).")
            .define(PROMPT_MAX_CHARS, Type.INT, 2000, ConfigDef.Range.atLeast(1), Importance.LOW,
                    "Prompts (and answers) longer than this many characters go to the dead-letter topic unread.")
            .define(IMAGE_MAX_BYTES, Type.INT, 16 << 20, ConfigDef.Range.atLeast(1), Importance.LOW,
                    "Images larger than this many bytes go to the dead-letter topic undecoded.")
            .define(ATTRIBUTIONS_ENABLED, Type.BOOLEAN, true, Importance.LOW,
                    "Write TokenAttribution records (QIG token weights per group) besides the partial sums.")
            .define(STATS_RECORD_MAX_BYTES, Type.INT, Records.DEFAULT_STATS_RECORD_BYTES, ConfigDef.Range.atLeast(16 << 10),
                    Importance.LOW, "Largest LayerStats record, in bytes: a sample's partial sums are cut by decoder layer "
                            + "into as few records as stay within it (a single layer is never cut). The default keeps "
                            + "records well inside Kafka's 1 MB message limit; the test-bed model's fit in one.");

    private final List<QuantScheme> schemes;
    private final Set<Method> methods;

    public AttributorConfig(Map<?, ?> props) {
        super(DEFINITION, props);
        try {
            schemes = new ArrayList<>();
            for (String s : getList(SCHEMES)) {
                QuantScheme q = QuantScheme.parse(s);
                if (!schemes.contains(q)) {
                    schemes.add(q);
                }
            }
        } catch (IllegalArgumentException e) {
            throw new ConfigException(SCHEMES, getList(SCHEMES), e.getMessage());
        }
        try {
            methods = EnumSet.copyOf(Method.parseList(String.join(",", getList(METHODS))));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(METHODS, getList(METHODS), e.getMessage());
        }
    }

    public static ConfigDef definition() {
        return new ConfigDef(DEFINITION);
    }

    public List<String> models() {
        return getList(MODELS);
    }

    public List<QuantScheme> schemes() {
        return List.copyOf(schemes);
    }

    /** Every method calibrated, GPTQ's included. */
    public Set<Method> methods() {
        return EnumSet.copyOf(methods);
    }

    /** The methods whose sums the engine computes per sample. */
    public Set<Method> scaleSearches() {
        Set<Method> out = EnumSet.noneOf(Method.class);
        methods.stream().filter(Method::searchesScales).forEach(out::add);
        return out;
    }

    public GptqOptions gptqOptions() {
        return new GptqOptions(getDouble(GPTQ_DAMP), getBoolean(GPTQ_ACT_ORDER));
    }

    /** The engine settings of one scheme as records carry them (and round keys name them). */
    public EngineSettings settingsRecord(QuantScheme scheme) {
        return Records.settingsRecord(calibrationSettings(scheme), methods, gptqOptions());
    }

    /** Whether this process runs GPTQ round jobs (it does only when it calibrates a GPTQ method). */
    public boolean gptqJobsEnabled() {
        return getBoolean(GPTQ_JOBS_ENABLED) && methods.stream().anyMatch(Method::roundsWithGptq);
    }

    public java.nio.file.Path gptqWeightsDir() {
        return java.nio.file.Path.of(getString(GPTQ_WEIGHTS_DIR)).toAbsolutePath();
    }

    /** The engine settings for one scheme. */
    public CalibrationSettings calibrationSettings(QuantScheme scheme) {
        return CalibrationSettings.builder(scheme)
                .behaviour(CalibrationSettings.Behaviour.valueOf(getString(CALIBRATION_BEHAVIOUR).toUpperCase(Locale.ROOT)))
                .igSteps(getInt(CALIBRATION_IG_STEPS))
                .igRule(IgRule.parse(getString(CALIBRATION_IG_RULE)))
                .igChunkSteps(getInt(CALIBRATION_IG_CHUNK_STEPS))
                .iqrClip(getBoolean(CALIBRATION_IQR_CLIP))
                .codeFaithfulCounterBug(getBoolean(CALIBRATION_CODE_FAITHFUL_COUNTER_BUG))
                .batchSize(batchSize())
                .build();
    }

    public int batchSize() {
        return getInt(BATCH_SIZE);
    }

    public long batchLingerMs() {
        return getLong(BATCH_LINGER_MS);
    }

    public int workers() {
        return getInt(WORKERS);
    }

    public int promptMaxChars() {
        return getInt(PROMPT_MAX_CHARS);
    }

    public int imageMaxBytes() {
        return getInt(IMAGE_MAX_BYTES);
    }

    public boolean attributionsEnabled() {
        return getBoolean(ATTRIBUTIONS_ENABLED);
    }

    public int statsRecordMaxBytes() {
        return getInt(STATS_RECORD_MAX_BYTES);
    }

    private static String ids(Method[] values) {
        return String.join(", ", java.util.Arrays.stream(values).map(Method::id).toList());
    }
}
