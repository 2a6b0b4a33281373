package dev.qig.evaluator;

import dev.qig.data.Domain;
import dev.qig.data.SyntheticWorld;
import dev.qig.core.model.Checkpoint;
import dev.qig.kafka.config.ServiceConfig;
import dev.qig.kafka.topics.Topics;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.common.config.ConfigException;

/**
 * Configuration of the evaluator: which models it serves, what it evaluates on, how it decides a
 * promotion, and where it runs.
 */
public final class EvaluatorConfig extends ServiceConfig {

    /** Consumer group of the evaluators on the configs topic. */
    public static final String GROUP_ID = ConsumerConfig.GROUP_ID_CONFIG;
    /** Checkpoint locations of the models evaluated; the evaluator loads its own copy of each. */
    public static final String MODELS = "models";
    /** Domains of the evaluation set. */
    public static final String EVAL_DOMAINS = "eval.domains";
    /** Questions per domain. */
    public static final String EVAL_QUESTIONS_PER_DOMAIN = "eval.questions.per.domain";
    /** synthetic (the held-out sets) or topic (labelled samples in eval.topic). */
    public static final String EVAL_SOURCE = "eval.source";
    /** Topic of labelled CalibrationSample records when eval.source=topic. */
    public static final String EVAL_TOPIC = "eval.topic";
    /** Questions per forward pass. */
    public static final String BATCH_SIZE = "batch.size";
    /** How much accuracy a config may lose against the active one (in [0, 1]; 0.01 = one point). */
    public static final String PROMOTION_MARGIN = "promotion.margin";
    /** Confidence of the paired intervals the promotion rule reads. */
    public static final String PROMOTION_CONFIDENCE = "promotion.confidence";
    /** How much accuracy a promoted config may lose against full precision. */
    public static final String PROMOTION_MAX_LOSS_VS_FP32 = "promotion.max.loss.vs.fp32";
    /** auto, cpu or gpu. */
    public static final String DEVICE = "device";

    /** Where the evaluation questions come from. */
    public enum EvalSource { SYNTHETIC, TOPIC }

    /** Where the model runs. */
    public enum DeviceSetting { AUTO, CPU, GPU }

    /** The default {@value ServiceConfig#METRICS_PORT} of the evaluator (one port per service: 9401-9404). */
    public static final int DEFAULT_METRICS_PORT = 9404;

    private static final ConfigDef DEFINITION = commonDefinition(DEFAULT_METRICS_PORT, Topics.Topic.CONFIGS, Topics.Topic.EVAL_RESULTS,
            Topics.Topic.ACTIVE_CONFIGS, Topics.Topic.DLQ)
            .define(GROUP_ID, Type.STRING, "qig-evaluator", new ConfigDef.NonEmptyString(), Importance.HIGH,
                    "Consumer group of the evaluators on the configs topic. Run one instance per (model, scheme): "
                            + "promotions read and write the active config of their (model, scheme).")
            .define(MODELS, Type.LIST, List.of(Checkpoint.SHIPPED), NON_EMPTY_LIST, Importance.HIGH,
                    "Checkpoint locations of the models evaluated: directories or classpath:<folder>. The evaluator "
                            + "loads its own copy of each; configs naming another model go to the dead-letter topic.")
            .define(EVAL_DOMAINS, Type.LIST, ids(Domain.values()), NON_EMPTY_LIST, Importance.MEDIUM,
                    "Domains of the evaluation set: " + String.join(", ", ids(Domain.values()))
                            + ". One EvalResult per domain and config.")
            .define(EVAL_QUESTIONS_PER_DOMAIN, Type.INT, SyntheticWorld.EVAL_SET_SIZE,
                    ConfigDef.Range.atLeast(1), Importance.MEDIUM,
                    "Questions per domain (the synthetic held-out sets have " + SyntheticWorld.EVAL_SET_SIZE
                            + "). Fewer questions evaluate faster and give wider intervals.")
            .define(EVAL_SOURCE, Type.STRING, "synthetic", ConfigDef.CaseInsensitiveValidString.in("synthetic", "topic"),
                    Importance.MEDIUM, "Where the evaluation questions come from: 'synthetic' (the shipped held-out "
                            + "sets, never used for training or calibration) or 'topic' (labelled CalibrationSample "
                            + "records in eval.topic, read from its beginning at start).")
            .define(EVAL_TOPIC, Type.STRING, "qig.eval-samples.v1", new ConfigDef.NonEmptyString(), Importance.LOW,
                    "Topic of labelled CalibrationSample records (the samples topic's schema) when eval.source=topic; "
                            + "the first eval.questions.per.domain of each domain, in sample id order, form the set.")
            .define(BATCH_SIZE, Type.INT, 50, ConfigDef.Range.between(1, 1024), Importance.LOW,
                    "Questions per forward pass. Results do not depend on it.")
            .define(PROMOTION_MARGIN, Type.DOUBLE, 0.01, ConfigDef.Range.between(0.0, 1.0), Importance.HIGH,
                    "Accuracy a config may lose against the active config of its (model, scheme), in [0, 1] (0.01 = "
                            + "one point): it is promoted when the lower end of the paired interval of its accuracy "
                            + "minus the active one's is above -margin.")
            .define(PROMOTION_CONFIDENCE, Type.DOUBLE, 0.95, ConfigDef.Range.between(0.5, 0.999), Importance.MEDIUM,
                    "Confidence of the paired bootstrap intervals the promotion rule reads.")
            .define(PROMOTION_MAX_LOSS_VS_FP32, Type.DOUBLE, 0.05, ConfigDef.Range.between(0.0, 1.0), Importance.HIGH,
                    "Accuracy a promoted config may lose against full precision, in [0, 1]: the lower end of the "
                            + "paired interval of its accuracy minus full precision's must be above -this. Decides "
                            + "alone while a (model, scheme) has no active config, and guards every promotion.")
            .define(DEVICE, Type.STRING, "auto", ConfigDef.CaseInsensitiveValidString.in("auto", "cpu", "gpu"),
                    Importance.MEDIUM, "Where the model runs: auto (the first GPU when DJL finds one, else the CPU), "
                            + "cpu, or gpu (fails at start without one). Recorded in every EvalResult.");

    private final List<Domain> domains;

    public EvaluatorConfig(Map<?, ?> props) {
        super(DEFINITION, props);
        try {
            List<Domain> parsed = new ArrayList<>();
            for (String d : getList(EVAL_DOMAINS)) {
                Domain domain = Domain.parse(d);
                if (!parsed.contains(domain)) {
                    parsed.add(domain);
                }
            }
            domains = List.copyOf(parsed);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(EVAL_DOMAINS, getList(EVAL_DOMAINS), e.getMessage());
        }
    }

    public static ConfigDef definition() {
        return new ConfigDef(DEFINITION);
    }

    public List<String> models() {
        return getList(MODELS);
    }

    public List<Domain> evalDomains() {
        return domains;
    }

    public int questionsPerDomain() {
        return getInt(EVAL_QUESTIONS_PER_DOMAIN);
    }

    public EvalSource evalSource() {
        return EvalSource.valueOf(getString(EVAL_SOURCE).toUpperCase(Locale.ROOT));
    }

    public String evalTopic() {
        return getString(EVAL_TOPIC);
    }

    public int batchSize() {
        return getInt(BATCH_SIZE);
    }

    public double promotionMargin() {
        return getDouble(PROMOTION_MARGIN);
    }

    public double promotionConfidence() {
        return getDouble(PROMOTION_CONFIDENCE);
    }

    public double promotionMaxLossVsFullPrecision() {
        return getDouble(PROMOTION_MAX_LOSS_VS_FP32);
    }

    public DeviceSetting device() {
        return DeviceSetting.valueOf(getString(DEVICE).toUpperCase(Locale.ROOT));
    }

    private static List<String> ids(Domain[] values) {
        return Arrays.stream(values).map(Domain::id).toList();
    }
}
