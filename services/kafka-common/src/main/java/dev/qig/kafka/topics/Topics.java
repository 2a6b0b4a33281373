package dev.qig.kafka.topics;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;

/** The topics of qig-stream (docs/architecture.md, "Topics"): default names, config keys, and how they are created. */
public final class Topics {

    /** One topic of the design. */
    public enum Topic {
        SAMPLES("topic.samples", "qig.calibration-samples.v1", false,
                "calibration samples (CalibrationSample, key = sample id)."),
        TOKEN_ATTRIBUTIONS("topic.token.attributions", "qig.token-attributions.v1", false,
                "QIG token attributions (TokenAttribution, key = sample id)."),
        LAYER_STATS("topic.layer.stats", "qig.layer-stats.v1", false,
                "per-sample partial sums (LayerStats, key = round key model/scheme/settings)."),
        PLANS("topic.plans", "qig.calibration-plans.v1", true,
                "calibration plans (CalibrationPlan, key = round key; compacted)."),
        CONFIGS("topic.configs", "qig.quant-configs.v1", true,
                "quantization configs (QuantConfig, key = round key/method; compacted)."),
        GPTQ_JOBS("topic.gptq.jobs", "qig.gptq-jobs.v1", false,
                "GPTQ work of calibrating rounds (GptqJob, key = round key/method)."),
        EVAL_RESULTS("topic.eval.results", "qig.eval-results.v1", false,
                "evaluation results (EvalResult, key = config id)."),
        DRIFT_EVENTS("topic.drift.events", "qig.drift-events.v1", false,
                "drift events (DriftEvent, key = model/scheme)."),
        ACTIVE_CONFIGS("topic.active.configs", "qig.active-configs.v1", true,
                "promoted configs (ActiveConfig, key = model/scheme; compacted)."),
        PUBLISHED_MODELS("topic.published.models", "qig.published-models.v1", true,
                "published checkpoints of promoted configs (ModelPublished, key = config id; compacted)."),
        DLQ("topic.dlq", "qig.dlq.v1", false,
                "dead letters: the original key and value bytes, the error and where it happened in headers (KIP-1034).");

        private final String configKey;
        private final String defaultName;
        private final boolean compacted;
        private final String description;

        Topic(String configKey, String defaultName, boolean compacted, String description) {
            this.configKey = configKey;
            this.defaultName = defaultName;
            this.compacted = compacted;
            this.description = description;
        }

        public String configKey() {
            return configKey;
        }

        public String defaultName() {
            return defaultName;
        }

        public boolean compacted() {
            return compacted;
        }

        public String description() {
            return description;
        }
    }

    private Topics() {}

    /**
     * Creates the named topics that do not exist yet (compacted ones with cleanup.policy=compact);
     * existing topics are left as they are.
     *
     * @param names topic -> its configured name
     */
    public static void ensure(Admin admin, Map<Topic, String> names, int partitions, short replicationFactor)
            throws InterruptedException {
        Set<String> existing;
        try {
            existing = admin.listTopics().names().get();
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot list topics: " + e.getCause().getMessage(), e.getCause());
        }
        List<NewTopic> missing = new ArrayList<>();
        names.forEach((topic, name) -> {
            if (!existing.contains(name)) {
                NewTopic t = new NewTopic(name, java.util.Optional.of(partitions),
                        replicationFactor < 0 ? java.util.Optional.empty() : java.util.Optional.of(replicationFactor));
                if (topic.compacted()) {
                    t.configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT));
                }
                missing.add(t);
            }
        });
        if (missing.isEmpty()) {
            return;
        }
        try {
            admin.createTopics(missing).all().get();
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) { // another service created it meanwhile
                throw new IllegalStateException("cannot create topics " + names(missing) + ": " + e.getCause().getMessage(),
                        e.getCause());
            }
        }
        awaitLeaders(admin, names(missing));
    }

    /**
     * Waits until every partition of fresh topics has a leader that serves it. An idempotent producer's
     * first send to a partition whose leader is not settled yet can be refused and then fail every
     * retry with OUT_OF_ORDER_SEQUENCE_NUMBER (KAFKA-15591, fixed in Kafka 4.5): seen here in about
     * three of four fresh topics on a one-node broker.
     */
    static void awaitLeaders(Admin admin, List<String> topics) throws InterruptedException {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try {
                Map<org.apache.kafka.common.TopicPartition, org.apache.kafka.clients.admin.OffsetSpec> partitions = new HashMap<>();
                admin.describeTopics(topics).allTopicNames().get().forEach((name, description) ->
                        description.partitions().forEach(p -> partitions.put(
                                new org.apache.kafka.common.TopicPartition(name, p.partition()),
                                org.apache.kafka.clients.admin.OffsetSpec.latest())));
                admin.listOffsets(partitions).all().get();
                return;
            } catch (ExecutionException e) {
                // Retriable covers what a broker answers until it has applied the topics (unknown topic, not leader).
                if (!(e.getCause() instanceof org.apache.kafka.common.errors.RetriableException)
                        || System.nanoTime() > deadline) {
                    throw new IllegalStateException("topics " + topics + " have no serving leader for every partition: "
                            + e.getCause().getMessage(), e.getCause());
                }
            }
            Thread.sleep(100);
        }
    }

    /** Names of the given topics as configured in {@code config} (see ServiceConfig#topic). */
    public static Map<Topic, String> named(Collection<Topic> topics, java.util.function.Function<Topic, String> name) {
        Map<Topic, String> out = new HashMap<>();
        for (Topic t : topics) {
            out.put(t, name.apply(t));
        }
        return out;
    }

    private static List<String> names(List<NewTopic> topics) {
        return topics.stream().map(NewTopic::name).toList();
    }
}
