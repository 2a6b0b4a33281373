package dev.qig.attributor.internals;

import ai.djl.ndarray.NDManager;
import dev.qig.attributor.AttributorConfig;
import dev.qig.data.TokenModality;
import dev.qig.data.VisualQuestion;
import dev.qig.data.Vocabulary;
import dev.qig.core.model.Checkpoint;
import dev.qig.quant.CalibrationPlan;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.GroupKey;
import dev.qig.quant.Method;
import dev.qig.core.engine.PartialSumsEngine;
import dev.qig.quant.QuantScheme;
import dev.qig.quant.TokenScores;
import dev.qig.core.vqa.EncodedQuestion;
import dev.qig.core.vqa.VqaModel;
import dev.qig.kafka.dlq.DeadLetters;
import dev.qig.kafka.dlq.RejectReason;
import dev.qig.kafka.dlq.RejectedRecordException;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.records.RoundKey;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.clients.AtLeastOnceLoop;
import dev.qig.kafka.clients.ServiceClients;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.CalibrationSample;
import dev.qig.schemas.EngineSettings;
import dev.qig.schemas.GroupAttribution;
import dev.qig.schemas.LayerStats;
import dev.qig.schemas.TokenAttribution;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.function.BooleanSupplier;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One attributor worker: a consumer of the group with its own copy of every served model (the
 * model is mutable shared state: hooks, weights replaced in place). Per poll it decodes and checks
 * every sample, sends the bad ones to the dead-letter topic, runs the good ones through the engine
 * under the latest plan, writes LayerStats and TokenAttribution records, waits until all of them are
 * acknowledged, and only then commits the offsets: at least once; the aggregator counts a redelivered
 * sample once.
 */
public final class Worker implements Runnable {

    public static final String STAGE = "attributor";
    private static final Logger LOG = LoggerFactory.getLogger(Worker.class);
    /** How often a batch is computed again when plans keep arriving while it is computed. */
    private static final int MAX_PLAN_RETRIES = 2;

    /** A served model: this worker's copy and its engine per scheme. */
    private record Served(String id, VqaModel vqa, Map<QuantScheme, PartialSumsEngine> engines) {}

    /** What the engine made of one sample: its result, or the exception of a sample it cannot take. */
    private sealed interface Outcome {
        record Computed(PartialSumsEngine.SampleResult result) implements Outcome {}

        record Failed(RuntimeException error) implements Outcome {}
    }

    /** The latest plan of a round key: {@link PlanCache#current}; an interface so tests can make plans arrive mid-batch. */
    interface PlanSource {
        CalibrationPlan current(RoundKey key);
    }

    /** The batched engine call: {@link PartialSumsEngine#attribute}; an interface so tests can make a batch fail. */
    interface EngineCall {
        List<PartialSumsEngine.SampleResult> attribute(PartialSumsEngine engine, List<VisualQuestion> questions,
                                                       CalibrationPlan plan, Set<Method> methods, NDManager manager);
    }

    /** A sample on its way through the engine. */
    private record Item(ConsumerRecord<byte[], byte[]> source, CalibrationSample sample, VisualQuestion question) {}

    private final AttributorConfig config;
    private final int index;
    private final PlanSource plans;
    private final EngineCall engineCall;
    private final SampleDecoder decoder;
    private final AvroSerializer<SpecificRecord> serializer;
    private final AttributorStats stats;
    private final Map<QuantScheme, EngineSettings> settingsRecords = new HashMap<>();
    private final org.apache.kafka.common.serialization.Serializer<String> keys;
    private final Map<PartialSumsEngine, Map<GroupKey, Integer>> igPoints = new java.util.IdentityHashMap<>();
    private final AtLeastOnceLoop loop;
    /** Round key and plan of which the LayerStats sizes were logged (once each, for operators sizing topics). */
    private final java.util.Set<String> sizesLogged = new java.util.HashSet<>();

    public Worker(AttributorConfig config, int index, PlanCache plans, SampleDecoder decoder,
                  AvroSerializer<SpecificRecord> serializer, AttributorStats stats) {
        this(config, index, plans::current, decoder, serializer, stats, PartialSumsEngine::attribute);
    }

    /** The worker with its plans and engine call given: the seam of WorkerPlanRetryTest and IsolatedAttributionTest. */
    Worker(AttributorConfig config, int index, PlanSource plans, SampleDecoder decoder,
           AvroSerializer<SpecificRecord> serializer, AttributorStats stats, EngineCall engineCall) {
        this.config = config;
        this.index = index;
        this.plans = plans;
        this.engineCall = engineCall;
        this.decoder = decoder;
        this.serializer = serializer;
        this.keys = serializer.keySerializer(config.keyFormat());
        this.stats = stats;
        for (QuantScheme s : config.schemes()) {
            settingsRecords.put(s, config.settingsRecord(s));
        }
        this.loop = new AtLeastOnceLoop("attributor worker " + index, this::newConsumer, stats::restarted);
    }

    /**
     * The worker's consumer loop: ready once the models are loaded and it polls ({@code awaitReady}
     * throws if a model does not load), serving, its consumer's metrics, and {@code stop}.
     */
    public AtLeastOnceLoop loop() {
        return loop;
    }

    @Override
    public void run() {
        try (NDManager manager = NDManager.newBaseManager();
             KafkaProducer<byte[], byte[]> producer = newProducer()) {
            List<Served> models = load(manager);
            loop.run(this::pollBatch, records -> process(records, models, producer, manager));
        } catch (Throwable t) {
            loop.failed(t);
            if (t instanceof Error e) {
                throw e;
            }
        }
    }

    private List<Served> load(NDManager manager) throws IOException {
        List<Served> out = new ArrayList<>();
        for (String location : config.models()) {
            Checkpoint.Loaded loaded = Checkpoint.load(location, manager);
            VqaModel vqa = loaded.vqa();
            Map<QuantScheme, PartialSumsEngine> engines = new LinkedHashMap<>();
            for (QuantScheme s : config.schemes()) {
                engines.put(s, new PartialSumsEngine(vqa, config.calibrationSettings(s), loaded.modelId()));
            }
            out.add(new Served(loaded.modelId(), vqa, engines));
            LOG.info("worker {}: serving {} ({}) for {}", index, loaded.modelId(), location, config.schemes());
        }
        return out;
    }

    private KafkaConsumer<byte[], byte[]> newConsumer() {
        return ServiceClients.recordAtATimeConsumer(config, config.getString(AttributorConfig.GROUP_ID),
                "qig-attributor-" + config.instanceId() + "-" + index, config.topic(Topics.Topic.SAMPLES));
    }

    private KafkaProducer<byte[], byte[]> newProducer() {
        return ServiceClients.reliableProducer(config, "qig-attributor-" + config.instanceId() + "-" + index,
                Map.of("linger.ms", 5));
    }

    /**
     * A batch of records: polls until it holds {@code batch.size} records or the linger time since its
     * first record is over. Polls return one record each (max.poll.records = 1, served from the
     * consumer's fetch buffer), so a batch is never more than full: full batches use the engine best.
     */
    private List<ConsumerRecord<byte[], byte[]>> pollBatch(Consumer<byte[], byte[]> consumer, BooleanSupplier running) {
        List<ConsumerRecord<byte[], byte[]>> batch = AtLeastOnceLoop.pollOnce(consumer, running);
        long deadline = System.nanoTime() + config.batchLingerMs() * 1_000_000;
        while (!batch.isEmpty() && batch.size() < config.batchSize() && System.nanoTime() < deadline
                && running.getAsBoolean()) {
            long left = Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
            consumer.poll(Duration.ofMillis(Math.min(left, 100))).forEach(batch::add);
        }
        return batch;
    }

    private void process(List<ConsumerRecord<byte[], byte[]>> records, List<Served> models,
                         KafkaProducer<byte[], byte[]> producer, NDManager manager) throws ExecutionException {
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        List<Runnable> onAcknowledged = new ArrayList<>();
        Map<Served, List<Item>> perModel = new LinkedHashMap<>();
        models.forEach(m -> perModel.put(m, new ArrayList<>()));
        for (ConsumerRecord<byte[], byte[]> r : records) {
            stats.countConsumed();
            CalibrationSample sample;
            byte[] image;
            try {
                sample = decoder.record(r.topic(), r.value());
                image = decoder.imageBytes(sample);
            } catch (RejectedRecordException e) {
                sent.add(deadLetter(producer, r, e, null));
                continue;
            }
            if (sample.getModel() != null && models.stream().noneMatch(m -> m.id().equals(sample.getModel()))) {
                sent.add(deadLetter(producer, r, new RejectedRecordException(RejectReason.UNKNOWN_MODEL, "sample "
                        + sample.getSampleId() + " names model " + sample.getModel() + "; this attributor serves "
                        + models.stream().map(Served::id).toList()), sample.getModel()));
                continue;
            }
            for (Served m : models) {
                if (sample.getModel() != null && !sample.getModel().equals(m.id())) {
                    continue;
                }
                try {
                    perModel.get(m).add(new Item(r, sample, decoder.question(sample, image, m.vqa())));
                } catch (RejectedRecordException e) {
                    sent.add(deadLetter(producer, r, e, m.id()));
                }
            }
        }
        for (Map.Entry<Served, List<Item>> e : perModel.entrySet()) {
            if (e.getValue().isEmpty()) {
                continue;
            }
            for (QuantScheme scheme : config.schemes()) {
                attribute(e.getKey(), scheme, e.getValue(), producer, manager, sent, onAcknowledged);
            }
        }
        ServiceClients.awaitAcknowledged(producer, sent);
        onAcknowledged.forEach(Runnable::run);
    }

    /** Runs a model's samples through one scheme's engine under the latest plan, and writes the outputs. */
    private void attribute(Served model, QuantScheme scheme, List<Item> items, KafkaProducer<byte[], byte[]> producer,
                           NDManager manager, List<Future<RecordMetadata>> sent, List<Runnable> onAcknowledged) {
        PartialSumsEngine engine = model.engines().get(scheme);
        CalibrationSettings settings = engine.settings();
        Set<Method> methods = config.scaleSearches(); // GPTQ's methods are the round's job, not a sample's sums
        RoundKey key = RoundKey.of(model.id(), scheme, settingsRecords.get(scheme));
        List<VisualQuestion> questions = items.stream().map(Item::question).toList();
        CalibrationPlan plan = plans.current(key);
        List<Outcome> outcomes = run(model, scheme, engine, questions, plan, methods, manager);
        for (int attempt = 0; attempt < MAX_PLAN_RETRIES; attempt++) {
            CalibrationPlan latest = plans.current(key);
            if (latest.version() == plan.version()) {
                break;
            }
            // A newer plan arrived meanwhile: these sums would be stale on arrival. (After the last
            // retry the sums go out tagged with the plan they were computed under, whatever came since.)
            stats.countRecomputed();
            plan = latest;
            outcomes = run(model, scheme, engine, questions, plan, methods, manager);
        }
        String keyString = key.toString();
        List<Map<GroupKey, float[]>> lambdas = new ArrayList<>();
        List<TokenModality[]> modalities = new ArrayList<>();
        String topicStats = config.topic(Topics.Topic.LAYER_STATS);
        String topicAttributions = config.topic(Topics.Topic.TOKEN_ATTRIBUTIONS);
        for (int i = 0; i < items.size(); i++) {
            Item item = items.get(i);
            Outcome outcome = outcomes.get(i);
            if (outcome instanceof Outcome.Failed failed) {
                RuntimeException ex = failed.error();
                sent.add(deadLetter(producer, item.source(), new RejectedRecordException(RejectReason.PROCESSING_ERROR,
                        "sample " + item.sample().getSampleId() + ": engine failed: " + ex.getMessage(), ex), model.id()));
                continue;
            }
            PartialSumsEngine.SampleResult result = ((Outcome.Computed) outcome).result();
            if (!result.ok()) {
                sent.add(deadLetter(producer, item.source(), new RejectedRecordException(RejectReason.NON_FINITE,
                        "sample " + item.sample().getSampleId() + ", model " + model.id() + ", " + scheme.id() + ": "
                                + result.problem()), model.id()));
                continue;
            }
            CalibrationSample s = item.sample();
            List<LayerStats> parts = Records.layerStatsParts(s.getSampleId(), key, settingsRecords.get(scheme), plan.version(),
                    result.sums(), s.getDomain(), s.getEventTime(), config.instanceId(), config.statsRecordMaxBytes());
            long largest = 0;
            long total = 0;
            for (LayerStats part : parts) {
                byte[] value = serializer.serialize(topicStats, part);
                largest = Math.max(largest, value.length);
                total += value.length;
                sent.add(producer.send(new ProducerRecord<>(topicStats, null, s.getEventTime().toEpochMilli(),
                        keys.serialize(topicStats, keyString), value)));
            }
            if (sizesLogged.add(keyString + "|" + plan.version())) {
                LOG.info("worker {}: LayerStats of {} under plan {}: {} record(s) per sample, largest {} KB, {} KB in all",
                        index, keyString, plan.version(), parts.size(), (largest + 1023) / 1024, (total + 1023) / 1024);
            }
            stats.attributed(model.id(), scheme.id());
            if (!result.lambda().isEmpty()) {
                lambdas.add(result.lambda());
                modalities.add(result.modality());
            }
            if (config.attributionsEnabled() && !result.lambda().isEmpty()) {
                TokenAttribution a = attribution(s, model, scheme, plan.version(), item.question(), result, settings);
                sent.add(producer.send(new ProducerRecord<>(topicAttributions, null, s.getEventTime().toEpochMilli(),
                        keys.serialize(topicAttributions, s.getSampleId()), serializer.serialize(topicAttributions, a))));
            }
        }
        if (!lambdas.isEmpty()) {
            onAcknowledged.add(() -> stats.tokenShares(model.id(), scheme.id(), lambdas, modalities));
        }
    }

    /** {@link #attributeIsolated}, timed, with its integrated-gradient points counted. */
    private List<Outcome> run(Served model, QuantScheme scheme, PartialSumsEngine engine, List<VisualQuestion> questions,
                              CalibrationPlan plan, Set<Method> methods, NDManager manager) {
        long start = System.nanoTime();
        List<Outcome> out = null;
        try {
            out = attributeIsolated(engine, questions, plan, methods, manager);
            return out;
        } finally {
            long points = 0;
            if (out != null) {
                for (Outcome o : out) {
                    if (o instanceof Outcome.Computed computed) {
                        PartialSumsEngine.SampleResult r = computed.result();
                        for (GroupKey k : r.lambda().keySet()) {
                            points += igPoints(engine, model, k);
                        }
                    }
                }
            }
            stats.pass(model.id(), scheme.id(), (System.nanoTime() - start) / 1e9, points);
        }
    }

    /** Points of one group's integral for one sample (the engine's rule; one where the target is homogeneous). */
    private int igPoints(PartialSumsEngine engine, Served model, GroupKey k) {
        return igPoints.computeIfAbsent(engine, e -> new HashMap<>()).computeIfAbsent(k,
                g -> engine.igPoints(model.vqa().model().layers().get(g.layer()), g.group()));
    }

    /**
     * The engine's results per sample, or the exception of a sample the engine cannot take: a batch
     * that fails is retried one sample at a time so that one bad sample never fails the others.
     */
    private List<Outcome> attributeIsolated(PartialSumsEngine engine, List<VisualQuestion> questions,
                                            CalibrationPlan plan, Set<Method> methods, NDManager manager) {
        try {
            List<Outcome> out = new ArrayList<>();
            engineCall.attribute(engine, questions, plan, methods, manager).forEach(r -> out.add(new Outcome.Computed(r)));
            return out;
        } catch (RuntimeException batchFailure) {
            if (questions.size() == 1) {
                return List.of(new Outcome.Failed(batchFailure));
            }
            List<Outcome> out = new ArrayList<>();
            for (VisualQuestion q : questions) {
                try {
                    out.add(new Outcome.Computed(engineCall.attribute(engine, List.of(q), plan, methods, manager).get(0)));
                } catch (RuntimeException e) {
                    out.add(new Outcome.Failed(e));
                }
            }
            return out;
        }
    }

    private TokenAttribution attribution(CalibrationSample s, Served model, QuantScheme scheme, long planVersion,
                                         VisualQuestion q, PartialSumsEngine.SampleResult result,
                                         CalibrationSettings settings) {
        VqaModel vqa = model.vqa();
        int[] ids = EncodedQuestion.withAnswer(q, vqa.processor(), vqa.model().config().visionTokens()).tokenIds();
        List<String> tokens = new ArrayList<>(ids.length);
        for (int id : ids) {
            tokens.add(vqa.processor().token(id));
        }
        List<String> modalities = new ArrayList<>();
        for (TokenModality m : result.modality()) {
            modalities.add(m.name().toLowerCase(Locale.ROOT));
        }
        List<GroupAttribution> groups = new ArrayList<>();
        for (Map.Entry<GroupKey, float[]> e : result.lambda().entrySet()) {
            float[] raw = result.rawScores().get(e.getKey());
            float[] fences = settings.iqrClip() ? TokenScores.iqrFences(TokenScores.weights(raw, false)) : null;
            groups.add(GroupAttribution.newBuilder()
                    .setLayer(e.getKey().layer())
                    .setGroup(e.getKey().group().id())
                    .setLambda(Records.floats(e.getValue()))
                    .setRawScores(Records.floats(raw))
                    .setIqrLower(fences == null ? null : fences[0])
                    .setIqrUpper(fences == null ? null : fences[1])
                    .build());
        }
        return TokenAttribution.newBuilder()
                .setSampleId(s.getSampleId())
                .setModel(model.id())
                .setScheme(scheme.id())
                .setPlanVersion(planVersion)
                .setDomain(s.getDomain())
                .setEventTime(s.getEventTime())
                .setTokens(tokens)
                .setModalities(modalities)
                .setGroups(groups)
                .build();
    }

    private Future<RecordMetadata> deadLetter(KafkaProducer<byte[], byte[]> producer, ConsumerRecord<byte[], byte[]> r,
                                              RejectedRecordException e, String model) {
        stats.deadLettered(e.reason());
        LOG.warn("dead letter ({}) from {}-{}@{}: {}", e.reason().id(), r.topic(), r.partition(), r.offset(), e.getMessage());
        return producer.send(DeadLetters.to(config.topic(Topics.Topic.DLQ)).source(r).reason(e.reason()).stage(STAGE)
                .model(model).error(e).build());
    }
}
