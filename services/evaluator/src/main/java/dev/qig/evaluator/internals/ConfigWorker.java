package dev.qig.evaluator.internals;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import dev.qig.data.Domain;
import dev.qig.data.VqaSample;
import dev.qig.core.model.GradientRecording;
import dev.qig.quant.QuantConfig;
import dev.qig.evaluator.EvaluatorConfig;
import dev.qig.kafka.dlq.DeadLetters;
import dev.qig.kafka.dlq.RejectReason;
import dev.qig.kafka.dlq.RejectedRecordException;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.clients.AtLeastOnceLoop;
import dev.qig.kafka.clients.ServiceClients;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.ActiveConfig;
import dev.qig.schemas.EvalResult;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The evaluator's consumer loop, one config at a time: decode it (bad ones to the dead-letter
 * topic), apply it to this process's own copy of its model, evaluate, write one EvalResult per
 * domain, decide on promotion, write the ActiveConfig when promoted, wait until every record is
 * acknowledged, and only then commit the config's offset (at least once: results are keyed by
 * config id, so a redelivery repeats them; an already active config is not promoted again).
 */
public final class ConfigWorker implements Runnable {

    public static final String STAGE = "evaluator";
    private static final Logger LOG = LoggerFactory.getLogger(ConfigWorker.class);

    private final EvaluatorConfig config;
    private final ConfigDecoder decoder;
    private final AvroSerializer<SpecificRecord> serializer;
    private final ActiveConfigCache actives;
    private final List<VqaSample> questions;
    private final PromotionRule rule;
    private final EvaluatorStats stats;
    private final Device device;
    private final org.apache.kafka.common.serialization.Serializer<String> keys;
    private final Map<String, ServedModel> models = new LinkedHashMap<>();
    private final AtLeastOnceLoop loop;

    public ConfigWorker(EvaluatorConfig config, ConfigDecoder decoder, AvroSerializer<SpecificRecord> serializer,
                        ActiveConfigCache actives, List<VqaSample> questions, Device device, EvaluatorStats stats) {
        this.config = config;
        this.decoder = decoder;
        this.serializer = serializer;
        this.keys = serializer.keySerializer(config.keyFormat());
        this.actives = actives;
        this.questions = questions;
        this.device = device;
        this.stats = stats;
        this.rule = new PromotionRule(config.promotionMargin(), config.promotionConfidence(),
                config.promotionMaxLossVsFullPrecision());
        this.loop = new AtLeastOnceLoop("evaluator", this::newConsumer, stats::restarted);
    }

    /**
     * The consumer loop: ready once the models are loaded, full precision is measured and it polls
     * ({@code awaitReady} throws if that failed), serving, its consumer's metrics, and {@code stop}.
     */
    public AtLeastOnceLoop loop() {
        return loop;
    }

    @Override
    public void run() {
        GradientRecording.offInThisThread(); // evaluation only; weights are replaced in place
        try (NDManager manager = NDManager.newBaseManager(device);
             KafkaProducer<byte[], byte[]> producer = newProducer()) {
            for (String location : config.models()) {
                ServedModel m = ServedModel.load(location, manager, config.batchSize(), questions);
                models.put(m.id(), m);
                stats.serving(m.id());
                publishFullPrecision(m, producer);
                LOG.info("evaluating configs of {} ({}) on {}: {} questions of {}", m.id(), location, device, m.questions(),
                        m.domains());
            }
            // One config per poll (max.poll.records = 1): its offset is committed once its results are acknowledged.
            loop.run(AtLeastOnceLoop::pollOnce, records -> {
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    process(r, producer);
                }
            });
        } catch (Throwable t) {
            loop.failed(t);
            if (t instanceof Error e) {
                throw e;
            }
        }
    }

    /** The full-precision reference results, once per model and start. */
    private void publishFullPrecision(ServedModel m, KafkaProducer<byte[], byte[]> producer) throws ExecutionException {
        String id = m.id() + "/" + EvalResults.FULL_PRECISION;
        List<EvalResult> results = EvalResults.of(new EvalResults.Subject(id, m.id(), EvalResults.FULL_PRECISION,
                        EvalResults.FULL_PRECISION, 0, WeightBytes.decoderFullPrecision(m.vqa().model()), null, null),
                m, m.fullPrecision(), false, rule.confidence(), device.toString(), Instant.now());
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        results.forEach(r -> sent.add(send(producer, Topics.Topic.EVAL_RESULTS, id, r)));
        await(producer, sent);
        stats.reported(results, 0, null);
    }

    private void process(ConsumerRecord<byte[], byte[]> r, KafkaProducer<byte[], byte[]> producer)
            throws ExecutionException {
        stats.countConsumed();
        if (r.value() == null) {
            // A tombstone: the configs topic is compacted, and a deleted config is nothing to evaluate.
            LOG.info("tombstone at {}-{}@{} skipped", r.topic(), r.partition(), r.offset());
            return;
        }
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        ConfigDecoder.Decoded decoded;
        try {
            decoded = decoder.decode(r.topic(), r.value());
        } catch (RejectedRecordException e) {
            sent.add(deadLetter(producer, r, e, null));
            await(producer, sent);
            return;
        }
        QuantConfig candidate = decoded.config();
        String configId = decoded.record().getConfigId();
        ServedModel model = models.get(candidate.model());
        if (model == null) {
            sent.add(deadLetter(producer, r, new RejectedRecordException(RejectReason.UNKNOWN_MODEL, "config " + configId
                    + " names model " + candidate.model() + "; this evaluator serves " + models.keySet()),
                    candidate.model()));
            await(producer, sent);
            return;
        }
        String scheme = candidate.scheme().id();
        ActiveConfig active = actives.get(model.id(), scheme);
        String activeId = active == null ? null : active.getConfig().getConfigId();
        boolean[] activeOutcomes = activeId == null || activeId.equals(configId) ? null : activeOutcomes(model, active);

        ServedModel.Measured measured;
        long start = System.nanoTime();
        try {
            measured = model.evaluate(configId, candidate);
        } catch (IllegalArgumentException e) {
            sent.add(deadLetter(producer, r, new RejectedRecordException(RejectReason.MALFORMED_CONFIG, "config "
                    + configId + " does not fit model " + model.id() + ": " + e.getMessage(), e), model.id()));
            await(producer, sent);
            return;
        } catch (RuntimeException e) {
            sent.add(deadLetter(producer, r, new RejectedRecordException(RejectReason.PROCESSING_ERROR, "config "
                    + configId + ": evaluation failed: " + e.getMessage(), e), model.id()));
            await(producer, sent);
            return;
        } finally {
            stats.evaluationSeconds(model.id(), candidate.scheme().id(), (System.nanoTime() - start) / 1e9);
        }
        Instant now = Instant.now();
        List<EvalResult> results = EvalResults.of(new EvalResults.Subject(configId, model.id(), scheme,
                        candidate.method().id(), candidate.version(), WeightBytes.decoder(model.vqa().model(), candidate.scheme()),
                        activeOutcomes == null ? null : activeId, activeOutcomes),
                model, measured, true, rule.confidence(), device.toString(), now);

        ActiveConfig promotion = null;
        String verdict;
        if (configId.equals(activeId)) {
            verdict = "already active";
        } else if (active != null && decoded.record().getRound() < active.getConfig().getRound()) {
            verdict = "not promoted: round " + decoded.record().getRound() + " is older than the active config's round "
                    + active.getConfig().getRound();
        } else {
            Map<String, String> provenance = decoded.record().getProvenance() == null ? Map.of()
                    : decoded.record().getProvenance();
            boolean driftPlan = "drift".equals(provenance.get(Records.PROVENANCE_PLAN_REASON));
            // A tie goes to a config of the drifted traffic only while the active config predates it: once one
            // config of the round after the drift is active, the others of that round must be shown better.
            boolean afterDrift = driftPlan && (active == null || active.getConfig().getRound() < decoded.record().getRound());
            // After a drift, the gate judges the traffic now served: the questions of the domains the round came from.
            int[] judged = driftPlan ? servedQuestions(model, Records.provenanceDomains(provenance)) : null;
            PromotionRule.Decision d = rule.decide(subset(measured.report().correctness(), judged),
                    subset(activeOutcomes, judged), activeOutcomes == null ? null : activeId,
                    subset(model.fullPrecision().report().correctness(), judged), afterDrift);
            verdict = judged == null ? d.text() : d.text() + " (judged on the questions of " + String.join(", ",
                    servedDomains(model, Records.provenanceDomains(provenance))) + ", the domains of the drifted round)";
            String decision = verdict;
            results.forEach(res -> res.setDecision(decision)); // before the promotion copies them
            if (d.promoted()) {
                promotion = ActiveConfig.newBuilder()
                        .setModel(model.id())
                        .setScheme(scheme)
                        .setConfig(decoded.record())
                        .setEvaluations(results)
                        .setPreviousConfigId(activeId)
                        .setDecision(decision)
                        .setPromotedAt(now)
                        .build();
                sent.add(send(producer, Topics.Topic.ACTIVE_CONFIGS, ActiveConfigCache.key(model.id(), scheme), promotion));
            }
        }
        // Results go out after the decision, which they carry (a refusal is visible only there).
        for (EvalResult res : results) {
            res.setDecision(verdict);
            sent.add(send(producer, Topics.Topic.EVAL_RESULTS, configId, res));
        }
        await(producer, sent);
        if (promotion != null) {
            actives.put(promotion); // only once the topic has it, so a failed send is decided again on redelivery
        }
        stats.reported(results, decoded.record().getRound(), promotion != null);
        LOG.info("config {}: mean accuracy {} (fp32 {}); {}", configId, measured.report().meanAccuracy(),
                model.fullPrecision().report().meanAccuracy(), verdict);
    }

    /** The evaluated domains among {@code domains}, in evaluation order. */
    private static List<String> servedDomains(ServedModel model, List<String> domains) {
        List<String> out = new java.util.ArrayList<>();
        for (Domain d : model.domains()) {
            if (domains.contains(d.id())) {
                out.add(d.id());
            }
        }
        return out;
    }

    /** Question indices of the evaluated domains among {@code domains}; null (all) when none is evaluated. */
    static int[] servedQuestions(ServedModel model, List<String> domains) {
        List<String> served = servedDomains(model, domains);
        if (served.isEmpty()) {
            return null;
        }
        return served.stream().flatMapToInt(d -> java.util.Arrays.stream(model.indices(Domain.parse(d)))).sorted().toArray();
    }

    private static boolean[] subset(boolean[] all, int[] indices) {
        if (all == null || indices == null) {
            return all;
        }
        boolean[] out = new boolean[indices.length];
        for (int i = 0; i < indices.length; i++) {
            out[i] = all[indices[i]];
        }
        return out;
    }

    /**
     * The active config's per-question correctness: remembered from its evaluation in this process,
     * or evaluated again (after a restart, from the config the ActiveConfig record carries). Null when
     * it no longer applies to the model; the full-precision test then decides alone.
     */
    private boolean[] activeOutcomes(ServedModel model, ActiveConfig active) {
        String id = active.getConfig().getConfigId();
        boolean[] known = model.outcomes(id);
        if (known != null) {
            return known;
        }
        long start = System.nanoTime();
        try {
            QuantConfig c = ConfigDecoder.config(active.getConfig());
            LOG.info("evaluating the active config {} again for paired comparisons", id);
            return model.evaluate(id, c).report().correctness();
        } catch (RuntimeException e) {
            LOG.warn("the active config {} cannot be evaluated on model {} ({}); comparing with full precision only", id,
                    model.id(), e.getMessage());
            return null;
        } finally {
            stats.evaluationSeconds(model.id(), active.getScheme(), (System.nanoTime() - start) / 1e9);
        }
    }

    private Future<RecordMetadata> send(KafkaProducer<byte[], byte[]> producer, Topics.Topic topic, String key,
                                        SpecificRecord value) {
        String name = config.topic(topic);
        return producer.send(new ProducerRecord<>(name, keys.serialize(name, key), serializer.serialize(name, value)));
    }

    private Future<RecordMetadata> deadLetter(KafkaProducer<byte[], byte[]> producer, ConsumerRecord<byte[], byte[]> r,
                                              RejectedRecordException e, String model) {
        stats.deadLettered(e.reason());
        LOG.warn("dead letter ({}) from {}-{}@{}: {}", e.reason().id(), r.topic(), r.partition(), r.offset(), e.getMessage());
        return producer.send(DeadLetters.to(config.topic(Topics.Topic.DLQ)).source(r).reason(e.reason()).stage(STAGE)
                .model(model).error(e).build());
    }

    private static void await(KafkaProducer<byte[], byte[]> producer, List<Future<RecordMetadata>> sent)
            throws ExecutionException {
        ServiceClients.awaitAcknowledged(producer, sent);
    }

    private KafkaConsumer<byte[], byte[]> newConsumer() {
        return ServiceClients.recordAtATimeConsumer(config, config.getString(EvaluatorConfig.GROUP_ID),
                "qig-evaluator-" + config.instanceId(), config.topic(Topics.Topic.CONFIGS));
    }

    private KafkaProducer<byte[], byte[]> newProducer() {
        return ServiceClients.reliableProducer(config, "qig-evaluator-" + config.instanceId(), Map.of());
    }
}
