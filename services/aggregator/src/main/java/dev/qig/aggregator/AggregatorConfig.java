package dev.qig.aggregator;

import dev.qig.core.model.Checkpoint;
import dev.qig.core.quant.Method;
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
    /** Whose config builds the distorted input stream of the next plan (schemes with quantized activations). */
    public static final String DISTORTION_METHOD = "distortion.method";
    /** Port of the HTTP endpoint with rounds, plans and configs; 0 picks a free port, -1 turns it off. */
    public static final String HTTP_PORT = "http.port";
    /** Host name other instances use to reach this one's HTTP endpoint (Kafka Streams' application.server). */
    public static final String HTTP_ADVERTISED_HOST = "http.advertised.host";

    private static final ConfigDef DEFINITION = commonDefinition(Topics.Topic.LAYER_STATS, Topics.Topic.PLANS, Topics.Topic.CONFIGS,
            Topics.Topic.DLQ)
            .define(APPLICATION_ID, Type.STRING, "qig-aggregator", new ConfigDef.NonEmptyString(), Importance.HIGH,
                    "Kafka Streams application id: the consumer group and the prefix of the internal topics.")
            .define(MODELS, Type.LIST, List.of(Checkpoint.SHIPPED), NON_EMPTY_LIST, Importance.HIGH,
                    "Models whose partial sums are accepted: model ids (sha256-...) or checkpoint locations "
                            + "(directory or classpath:), whose content id is computed at start. Records naming "
                            + "another model go to the dead-letter topic.")
            .define(ROUND_SAMPLES, Type.INT, 64, ConfigDef.Range.atLeast(1), Importance.HIGH,
                    "Samples that close a round; each round emits a config per method and the next plan.")
            .define(ROUND_MAX_DURATION_MS, Type.LONG, 600_000L, ConfigDef.Range.atLeast(1), Importance.MEDIUM,
                    "A round with at least one sample closes after this many milliseconds of wall-clock time, "
                            + "however few samples it has.")
            .define(ROUND_CHECK_INTERVAL_MS, Type.LONG, 1_000L, ConfigDef.Range.atLeast(10), Importance.LOW,
                    "How often the time limit of open rounds is checked (milliseconds).")
            .define(PLAN_REFRESH_ROUNDS, Type.INT, 1, ConfigDef.Range.atLeast(0), Importance.MEDIUM,
                    "Every how many search rounds the closing round's statistics become a new plan (the channel "
                            + "means the candidate scales are built from). 1 follows the data round by round; 0 keeps "
                            + "the first plan. Partial sums computed under a plan that has been replaced go to the "
                            + "dead-letter topic as stale_plan; under a kept plan, late ones join the next round.")
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
        super(DEFINITION, props);
    }

    public static ConfigDef definition() {
        return new ConfigDef(DEFINITION);
    }

    /** The accepted model ids; checkpoint locations are hashed (not loaded). */
    public Set<String> modelIds() {
        Set<String> ids = new LinkedHashSet<>();
        for (String m : getList(MODELS)) {
            if (m.startsWith("sha256-")) {
                ids.add(m);
            } else {
                try {
                    ids.add(Checkpoint.modelId(m));
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

    public int planRefreshRounds() {
        return getInt(PLAN_REFRESH_ROUNDS);
    }

    public Method distortionMethod() {
        return Method.parse(getString(DISTORTION_METHOD));
    }

    public int httpPort() {
        return getInt(HTTP_PORT);
    }

    public String httpAdvertisedHost() {
        return getString(HTTP_ADVERTISED_HOST);
    }
}
