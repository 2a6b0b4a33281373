package dev.qig.evaluator.internals;

import ai.djl.ndarray.NDManager;
import dev.qig.data.Domain;
import dev.qig.data.InvalidPromptException;
import dev.qig.data.Vocabulary;
import dev.qig.data.VqaSample;
import dev.qig.core.model.Checkpoint;
import dev.qig.core.engine.AppliedQuantization;
import dev.qig.quant.QuantConfig;
import dev.qig.core.engine.QuantConfigApplier;
import dev.qig.core.vqa.EvalReport;
import dev.qig.core.vqa.VqaEvaluator;
import dev.qig.core.vqa.VqaModel;
import java.io.IOException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The evaluator's own copy of one model (never shared: configs replace its weights in place), its
 * evaluation questions, and the full-precision baseline measured once: the report, the reference
 * answer distributions for KL, and the throughput. Evaluating a config applies it, measures, and
 * restores the full-precision weights bit-exactly before returning, also when something fails.
 */
public final class ServedModel {

    private static final Logger LOG = LoggerFactory.getLogger(ServedModel.class);
    /** Outcomes kept for configs that may be compared against (the active ones); older ones are dropped. */
    private static final int OUTCOME_CACHE = 64;

    /** What one evaluation measured, question by question and per domain. */
    public record Measured(EvalReport report, Map<Domain, Double> tokensPerSecond) {}

    private final String id;
    private final VqaModel vqa;
    private final NDManager manager;
    private final VqaEvaluator evaluator;
    private final int batchSize;
    private final List<VqaSample> questions;
    // In evaluation order, which is the configured domain order.
    private final Map<Domain, List<VqaSample>> byDomain = new LinkedHashMap<>();
    private final Map<Domain, int[]> indices = new LinkedHashMap<>();
    private final Map<Domain, Long> tokens = new LinkedHashMap<>();
    private final List<float[]> reference;
    private final Measured fullPrecision;
    private final Map<String, boolean[]> outcomes = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, boolean[]> eldest) {
            return size() > OUTCOME_CACHE;
        }
    };

    private ServedModel(String id, VqaModel vqa, NDManager manager, int batchSize, List<VqaSample> questions) {
        this.id = id;
        this.vqa = vqa;
        this.manager = manager;
        this.batchSize = batchSize;
        this.evaluator = new VqaEvaluator(batchSize);
        this.questions = List.copyOf(questions);
        Map<Domain, List<Integer>> idx = new LinkedHashMap<>();
        int visionTokens = vqa.model().config().visionTokens();
        for (int i = 0; i < this.questions.size(); i++) {
            VqaSample q = this.questions.get(i);
            byDomain.computeIfAbsent(q.domain(), d -> new ArrayList<>()).add(q);
            idx.computeIfAbsent(q.domain(), d -> new ArrayList<>()).add(i);
            tokens.merge(q.domain(), (long) vqa.processor().encode(q.question(), q.answer(), visionTokens).length(), Long::sum);
        }
        idx.forEach((d, list) -> indices.put(d, list.stream().mapToInt(Integer::intValue).toArray()));
        long start = System.nanoTime();
        this.reference = evaluator.referenceDistributions(vqa, this.questions, manager);
        this.fullPrecision = measure();
        LOG.info("model {}: full precision on {} questions, mean accuracy {} ({} s)", id, this.questions.size(),
                fullPrecision.report().meanAccuracy(), (System.nanoTime() - start) / 1e9);
    }

    /**
     * Loads a model onto {@code manager} (whose device it runs on) and measures it in full precision.
     * Questions the model's vocabulary or context cannot take are left out (logged).
     */
    public static ServedModel load(String location, NDManager manager, int batchSize, List<VqaSample> questions)
            throws IOException {
        Checkpoint.Loaded loaded = Checkpoint.load(location, manager);
        VqaModel vqa = loaded.vqa();
        List<VqaSample> usable = new ArrayList<>();
        for (VqaSample q : questions) {
            try {
                vqa.processor().encode(q.question(), q.answer(), vqa.model().config().visionTokens());
                usable.add(q);
            } catch (InvalidPromptException e) {
                LOG.warn("model {}: question {} left out of the evaluation: {}", loaded.modelId(), q.id(), e.getMessage());
            }
        }
        if (usable.isEmpty()) {
            throw new IllegalStateException("model " + loaded.modelId() + " (" + location + ") can take none of the "
                    + questions.size() + " evaluation questions");
        }
        return new ServedModel(loaded.modelId(), vqa, manager, batchSize, usable);
    }

    public String id() {
        return id;
    }

    public VqaModel vqa() {
        return vqa;
    }

    /** Domains evaluated, in the configured order. */
    public List<Domain> domains() {
        return List.copyOf(byDomain.keySet());
    }

    /** Positions of a domain's questions in the evaluation order. */
    public int[] indices(Domain d) {
        return indices.get(d).clone();
    }

    public int questions() {
        return questions.size();
    }

    public Measured fullPrecision() {
        return fullPrecision;
    }

    /**
     * Applies a config, evaluates it, restores full precision, and remembers the per-question
     * correctness under {@code configId} (for paired comparisons against it while it is active).
     *
     * @throws IllegalArgumentException if the config does not fit the model (nothing is applied then)
     */
    public Measured evaluate(String configId, QuantConfig config) {
        Measured m;
        try (AppliedQuantization applied = QuantConfigApplier.apply(vqa.model(), config)) {
            m = measure();
        }
        remember(configId, m.report().correctness());
        return m;
    }

    /** Per-question correctness of a config evaluated before, or null. */
    public synchronized boolean[] outcomes(String configId) {
        boolean[] o = outcomes.get(configId);
        return o == null ? null : o.clone();
    }

    private synchronized void remember(String configId, boolean[] correctness) {
        outcomes.put(configId, correctness.clone());
    }

    /** One evaluation of the model as it is: answers, log-likelihood and KL, then a timed teacher-forced pass per domain. */
    private Measured measure() {
        EvalReport report = evaluator.evaluate("eval", vqa, questions, reference, manager, done -> { });
        Map<Domain, Double> tps = new EnumMap<>(Domain.class);
        for (Map.Entry<Domain, List<VqaSample>> e : byDomain.entrySet()) {
            List<VqaSample> qs = e.getValue();
            long start = System.nanoTime();
            for (int from = 0; from < qs.size(); from += batchSize) {
                vqa.answerLogLikelihood(qs.subList(from, Math.min(qs.size(), from + batchSize)), manager);
            }
            double seconds = Math.max(1e-9, (System.nanoTime() - start) / 1e9);
            tps.put(e.getKey(), tokens.get(e.getKey()) / seconds);
        }
        return new Measured(report, tps);
    }
}
