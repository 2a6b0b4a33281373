package dev.qig.aggregator;

import dev.qig.io.ModelIds;
import dev.qig.quant.Method;
import dev.qig.kafka.config.ServiceConfig;
import dev.qig.kafka.topics.Topics;
import java.io.IOException;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.streams.StreamsConfig;

/**
 * Configuration of the aggregator. Keys of Kafka Streams ({@code processing.guarantee},
 * {@code state.dir}, {@code commit.interval.ms}, ...) pass through; the defaults here make it
 * exactly-once.
 */
public final class AggregatorConfig extends ServiceConfig {

    /** When the aggregator emits configs (see {@link #REQUANTIZE_POLICY}). */
    public enum RequantizePolicy {
        /** Every search round emits a config per method. */
        EVERY_ROUND("every-round"),
        /** Configs calibrate a plan: the first plan's first search round, and the first round under each drift's plan. */
        ON_DRIFT("on-drift");

        private final String id;

        RequantizePolicy(String id) {
            this.id = id;
        }

        public String id() {
            return id;
        }

        public static RequantizePolicy parse(String s) {
            for (RequantizePolicy p : values()) {
                if (p.id.equals(s)) {
                    return p;
                }
            }
            throw new IllegalArgumentException("unknown re-quantization policy '" + s + "'");
        }
    }

    /**
     * What confirms a drift: for {@code consecutiveRounds} closed rounds in a row, the median over groups
     * of {@code method}'s regret over {@code regret}, the median channel shift over {@code muShift}, or
     * the vision shift (the first layer's vision tokens) over {@code visionShift}.
     */
    public record DriftThresholds(Method method, double regret, double muShift, double visionShift, int consecutiveRounds) {}

    /** Kafka Streams application id: the consumer group, and the prefix of internal topics and the state directory. */
    public static final String APPLICATION_ID = StreamsConfig.APPLICATION_ID_CONFIG;
    /** Models whose records are accepted: model ids, or checkpoint locations whose content id is computed. */
    public static final String MODELS = "models";
    /** Samples that close a round. */
    public static final String ROUND_SAMPLES = "round.samples";
    /** A round with at least one sample closes after this long, however few samples it has. */
    public static final String ROUND_MAX_DURATION_MS = "round.max.duration.ms";
    /** How often the time limit of open rounds is checked. */
    public static final String ROUND_CHECK_INTERVAL_MS = "round.check.interval.ms";
    /** Every how many search rounds a new plan is built from the closing round's statistics; 0 = never after the first. */
    public static final String PLAN_REFRESH_ROUNDS = "plan.refresh.rounds";
    /** Rounds within which a sample id counts once; the seen-samples store keeps no more. */
    public static final String DEDUP_ROUNDS = "dedup.rounds";
    /** Whose config builds the distorted input stream of the next plan (schemes with quantized activations). */
    public static final String DISTORTION_METHOD = "distortion.method";
    /** When configs are emitted: every search round, or only to calibrate a plan (the first, and each after a drift). */
    public static final String REQUANTIZE_POLICY = "requantize.policy";
    /** The method whose regret can confirm a drift. */
    public static final String DRIFT_METHOD = "drift.method";
    /** Regret of the drift method's config in force above which a round counts towards a drift. */
    public static final String DRIFT_REGRET_THRESHOLD = "drift.regret.threshold";
    /** Relative shift of the channel means against the plan above which a round counts towards a drift. */
    public static final String DRIFT_MU_SHIFT_THRESHOLD = "drift.mu.shift.threshold";
    /** Shift of the vision tokens' channel means at the first layer's input above which a round counts towards a drift. */
    public static final String DRIFT_VISION_SHIFT_THRESHOLD = "drift.vision.shift.threshold";
    /** Consecutive closed rounds over a threshold that confirm a drift. */
    public static final String DRIFT_CONSECUTIVE_ROUNDS = "drift.consecutive.rounds";
    /** Port of the HTTP endpoint with rounds, plans and configs; 0 picks a free port, -1 turns it off. */
    public static final String HTTP_PORT = "http.port";
    /** Host name other instances use to reach this one's HTTP endpoint (Kafka Streams' application.server). */
    public static final String HTTP_ADVERTISED_HOST = "http.advertised.host";

    /** The topics the aggregator reads or writes; {@link Aggregator#start()} creates the missing ones. */
    static final Topics.Topic[] TOPICS = {Topics.Topic.LAYER_STATS, Topics.Topic.PLANS, Topics.Topic.CONFIGS,
            Topics.Topic.GPTQ_JOBS, Topics.Topic.DRIFT_EVENTS, Topics.Topic.ACTIVE_CONFIGS, Topics.Topic.DLQ};

    /** The default {@value ServiceConfig#METRICS_PORT} of the aggregator (one port per service: 9401-9404). */
    public static final int DEFAULT_METRICS_PORT = 9403;

    private static final ConfigDef DEFINITION = commonDefinition(DEFAULT_METRICS_PORT, TOPICS)
            .define(APPLICATION_ID, Type.STRING, "qig-aggregator", new ConfigDef.NonEmptyString(), Importance.HIGH,
                    "Kafka Streams application id: the consumer group and the prefix of the internal topics.")
            .define(MODELS, Type.LIST, List.of(ModelIds.SHIPPED), NON_EMPTY_LIST, Importance.HIGH,
                    "Models whose partial sums are accepted: model ids (sha256-...) or checkpoint locations "
                            + "(directory or classpath:), whose content id is computed at start. Records naming "
                            + "another model go to the dead-letter topic.")
            .define(ROUND_SAMPLES, Type.INT, 64, ConfigDef.Range.atLeast(1), Importance.HIGH,
                    "Samples that close a round. A closed round is checked for drift, and emits a config per method when "
                            + "it calibrates (see requantize.policy).")
            .define(ROUND_MAX_DURATION_MS, Type.LONG, 600_000L, ConfigDef.Range.atLeast(1), Importance.MEDIUM,
                    "A round with at least one sample closes after this many milliseconds of wall-clock time, "
                            + "however few samples it has.")
            .define(ROUND_CHECK_INTERVAL_MS, Type.LONG, 1_000L, ConfigDef.Range.atLeast(10), Importance.LOW,
                    "How often the time limit of open rounds is checked (milliseconds).")
            .define(REQUANTIZE_POLICY, Type.STRING, RequantizePolicy.ON_DRIFT.id(),
                    ConfigDef.ValidString.in(RequantizePolicy.EVERY_ROUND.id(), RequantizePolicy.ON_DRIFT.id()),
                    Importance.HIGH,
                    "When configs are emitted. on-drift: the first search round under the first plan emits a config "
                            + "per method (the initial calibration); later rounds keep the plan and only monitor "
                            + "drift; a confirmed drift publishes a new plan from the drifted round's statistics, and "
                            + "the first round under it emits configs again (the re-quantization). every-round: every "
                            + "search round emits configs and plans follow plan.refresh.rounds (round-by-round "
                            + "comparisons, qig stream). Both compute the drift statistics and emit drift events.")
            .define(DEDUP_ROUNDS, Type.INT, 2, ConfigDef.Range.atLeast(1), Importance.LOW,
                    "A sample id counts once within this many rounds of a plan (the open round and the ones before "
                            + "it): a redelivery or a sample sent twice is a duplicate there. The seen-samples store "
                            + "keeps only those rounds' ids, so it stays bounded however long a plan lasts "
                            + "(under on-drift, until the next drift); an id seen earlier counts again.")
            .define(PLAN_REFRESH_ROUNDS, Type.INT, 1, ConfigDef.Range.atLeast(0), Importance.MEDIUM,
                    "With requantize.policy=every-round: every how many search rounds the closing round's statistics "
                            + "become a new plan (the channel means the candidate scales are built from). 1 follows "
                            + "the data round by round; 0 keeps the first plan (a confirmed drift still replaces it). "
                            + "Ignored under on-drift, where only a drift replaces the plan. Partial sums computed "
                            + "under a plan that has been replaced go to the dead-letter topic as stale_plan; under a "
                            + "kept plan, late ones join the next round.")
            .define(DRIFT_METHOD, Type.STRING, Method.QIG.id(), ConfigDef.ValidString.in("awq", "mbq", "qig"),
                    Importance.MEDIUM,
                    "The method whose regret can confirm a drift (RTN has no alpha to regret). The regret of a group "
                            + "is L(alpha in force) / min over alpha of L - 1, on the method's loss over the alpha grid "
                            + "from a closed round's sums; the alpha in force is that of the promoted active config "
                            + "when it was built under the current plan, else that of the method's last emitted config.")
            .define(DRIFT_REGRET_THRESHOLD, Type.DOUBLE, 0.05, ConfigDef.Range.atLeast(0.0), Importance.MEDIUM,
                    "A closed round counts towards a drift when the median over groups of the drift method's regret "
                            + "exceeds this (0.05: in the median group the config in force loses 5% against the best "
                            + "alpha on the round's data).")
            .define(DRIFT_MU_SHIFT_THRESHOLD, Type.DOUBLE, 0.07, ConfigDef.Range.atLeast(0.0), Importance.MEDIUM,
                    "A closed round counts towards a drift when the median over groups of the channel shift "
                            + "||mu_round - mu_plan||_2 / ||mu_plan||_2 exceeds this. 0.07: on the shipped model, rounds "
                            + "of 32 samples from one domain differ by 0.035-0.044, clean against cluttered by 0.087-0.105.")
            .define(DRIFT_VISION_SHIFT_THRESHOLD, Type.DOUBLE, 0.06, ConfigDef.Range.atLeast(0.0), Importance.MEDIUM,
                    "A closed round counts towards a drift when the channel shift of its vision tokens alone at the "
                            + "first decoder layer's attention input, against the plan's, exceeds this: image drifts "
                            + "that the median over groups misses show there. 0.06: on the shipped model, rounds of 32 "
                            + "samples from one domain differ by 0.015-0.023 (clean) and 0.027-0.057 (cluttered), clean "
                            + "against lowlight by 0.064-0.074, against cluttered by 0.18-0.22 (qig bench --shift).")
            .define(DRIFT_CONSECUTIVE_ROUNDS, Type.INT, 2, ConfigDef.Range.atLeast(1), Importance.MEDIUM,
                    "Consecutive closed rounds over a threshold that confirm a drift: one round of unusual samples "
                            + "is not a drift, two in a row are.")
            .define(DISTORTION_METHOD, Type.STRING, Method.QIG.id(),
                    ConfigDef.ValidString.in("rtn", "awq", "mbq", "qig"), Importance.LOW,
                    "For schemes that quantize activations (and the paper behaviour): the method whose config of "
                            + "the closing round builds the distorted input stream of the next plan.")
            .define(HTTP_PORT, Type.INT, 7071, ConfigDef.Range.atLeast(-1), Importance.MEDIUM,
                    "Port of the HTTP endpoint serving rounds, plans and configs (interactive queries); 0 picks a "
                            + "free port, -1 turns it off.")
            .define(HTTP_ADVERTISED_HOST, Type.STRING, "localhost", Importance.LOW,
                    "Host name under which other aggregator instances reach this one's HTTP endpoint.");

    public AggregatorConfig(Map<?, ?> props) {
        super(DEFINITION, props, AggregatorConfig::isStreamsKey);
    }

    /** A Kafka Streams key, or a client key under one of Streams' prefixes (producer., main.consumer., ...). */
    static boolean isStreamsKey(String key) {
        if (streamsKeys().contains(key)) {
            return true;
        }
        for (String prefix : List.of(StreamsConfig.PRODUCER_PREFIX, StreamsConfig.CONSUMER_PREFIX,
                StreamsConfig.MAIN_CONSUMER_PREFIX, StreamsConfig.RESTORE_CONSUMER_PREFIX,
                StreamsConfig.GLOBAL_CONSUMER_PREFIX, StreamsConfig.ADMIN_CLIENT_PREFIX, StreamsConfig.TOPIC_PREFIX)) {
            if (key.startsWith(prefix) && key.length() > prefix.length()) {
                return prefix.equals(StreamsConfig.TOPIC_PREFIX) || isClientKey(key.substring(prefix.length()));
            }
        }
        return false;
    }

    public static ConfigDef definition() {
        return new ConfigDef(DEFINITION);
    }

    /**
     * Kafka Streams' own keys ({@code state.dir}, {@code commit.interval.ms}, {@code num.stream.threads},
     * ...): they pass through to Kafka Streams, and the environment may set them too
     * ({@code QIG_STATE_DIR}; see {@link dev.qig.kafka.config.ConfigSources}).
     */
    public static Set<String> streamsKeys() {
        return StreamsConfig.configDef().names();
    }

    /** The accepted model ids; checkpoint locations are hashed (not loaded). */
    public Set<String> modelIds() {
        Set<String> ids = new LinkedHashSet<>();
        for (String m : getList(MODELS)) {
            if (m.startsWith("sha256-")) {
                ids.add(m);
            } else {
                try {
                    ids.add(ModelIds.modelId(m));
                } catch (IOException e) {
                    throw new ConfigException(MODELS, m, "cannot read the checkpoint: " + e.getMessage());
                }
            }
        }
        return ids;
    }

    public int roundSamples() {
        return getInt(ROUND_SAMPLES);
    }

    public long roundMaxDurationMs() {
        return getLong(ROUND_MAX_DURATION_MS);
    }

    public long roundCheckIntervalMs() {
        return getLong(ROUND_CHECK_INTERVAL_MS);
    }

    public int dedupRounds() {
        return getInt(DEDUP_ROUNDS);
    }

    public int planRefreshRounds() {
        return getInt(PLAN_REFRESH_ROUNDS);
    }

    public Method distortionMethod() {
        return Method.parse(getString(DISTORTION_METHOD));
    }

    public RequantizePolicy requantizePolicy() {
        return RequantizePolicy.parse(getString(REQUANTIZE_POLICY));
    }

    /** What confirms a drift. */
    public DriftThresholds driftThresholds() {
        return new DriftThresholds(Method.parse(getString(DRIFT_METHOD)), getDouble(DRIFT_REGRET_THRESHOLD),
                getDouble(DRIFT_MU_SHIFT_THRESHOLD), getDouble(DRIFT_VISION_SHIFT_THRESHOLD), getInt(DRIFT_CONSECUTIVE_ROUNDS));
    }

    public int httpPort() {
        return getInt(HTTP_PORT);
    }

    public String httpAdvertisedHost() {
        return getString(HTTP_ADVERTISED_HOST);
    }
}
