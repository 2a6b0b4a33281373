package dev.qig.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.djl.ndarray.NDList;
import dev.qig.data.Domain;
import dev.qig.data.GroundedSample;
import dev.qig.data.QuestionType;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VqaSample;
import dev.qig.core.model.GradientRecording;
import dev.qig.core.model.Scalars;
import dev.qig.core.vqa.EvalReport;
import dev.qig.core.vqa.VqaBatch;
import dev.qig.core.vqa.VqaEvaluator;
import dev.qig.core.vqa.VqaModel;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Trains a model on an endless stream of synthetic VQA samples (every step draws a fresh batch from
 * all domains equally, so the model never sees a sample twice) with Adam, warm-up + cosine
 * learning rate and global-norm gradient clipping. Loss: cross-entropy on answer tokens only.
 */
public final class VqaTrainer {

    private static final String VISION_TOWER_PREFIX = "vision_tower.";

    private final TrainConfig config;
    private final PrintStream out;

    public VqaTrainer(TrainConfig config, PrintStream out) {
        this.config = config;
        this.out = out;
    }

    /** Result of a run: the final training loss (mean of the last log window) and the wall time. */
    public record Result(double finalLoss, double seconds) {}

    public Result train(VqaModel vqa, NDManager manager) {
        SyntheticWorld world = new SyntheticWorld();
        SplittableRandom rng = new SplittableRandom(config.seed());
        Map<String, NDArray> params = new java.util.LinkedHashMap<>();
        vqa.model().weights().parameters().forEach((k, p) -> {
            // A frozen vision tower keeps the patch features of stage 1 (as LLaVA keeps its encoder frozen).
            boolean frozen = config.freezeVisionTower() && k.startsWith(VISION_TOWER_PREFIX);
            p.getArray().setRequiresGradient(!frozen);
            if (!frozen) {
                params.put(k, p.getArray());
            }
        });
        AdamW adam = new AdamW(0.9f, 0.999f, 1e-8f, 0f);
        List<VqaSample> quickEval = quickEvalSet(world);
        // Auxiliary losses, each with its weight; printed in this order. Their heads train with the model.
        List<Auxiliary> auxiliaries = new ArrayList<>();
        if (config.groundingWeight() > 0) {
            GroundingHead head = new GroundingHead(vqa.model().config(), config.groundingLayer(), manager, config.seed());
            params.putAll(head.weights());
            auxiliaries.add(new Auxiliary("grounding", config.groundingWeight(), head::loss));
        }
        AttentionSupervision attention = config.attentionWeight() > 0
                ? new AttentionSupervision(vqa.model(), config.attentionLayer(), config.attentionHead())
                : null;
        if (attention != null) {
            auxiliaries.add(new Auxiliary("attention", config.attentionWeight(), (o, b, g, s) -> attention.loss(b, g, s)));
        }
        if (config.relationWeight() > 0) {
            RelationSupervision heads = new RelationSupervision(vqa.model().config(), config.relationLayer(),
                    config.relationAnswerLayer(), manager, config.seed());
            params.putAll(heads.weights());
            auxiliaries.add(new Auxiliary("relation", config.relationWeight(), heads::loss));
        }
        double[] windowAuxiliary = new double[auxiliaries.size()];

        long start = System.nanoTime();
        double windowLoss = 0;
        int windowSteps = 0;
        double lastLoss = Double.NaN;
        int skipped = 0;
        for (int step = 1; step <= config.steps(); step++) {
            List<GroundedSample> grounded = drawBatch(world, rng, step);
            List<VqaSample> samples = grounded.stream().map(GroundedSample::sample).toList();
            try (NDManager s = manager.newSubManager()) {
                ParameterStore ps = new ParameterStore(s, false);
                float loss;
                try (GradientRecording gc = GradientRecording.open()) {
                    VqaBatch batch = vqa.teacherForced(samples);
                    NDList out = vqa.model().forward(ps, new NDList(batch.pixels(s), batch.tokenIds(s)), true);
                    NDArray l = VqaModel.answerLoss(out.get(0), batch, s);
                    loss = l.getFloat();
                    for (int k = 0; k < auxiliaries.size(); k++) {
                        Auxiliary aux = auxiliaries.get(k);
                        NDArray a = aux.loss().loss(out, batch, grounded, s);
                        if (a != null) { // null: nothing in this batch for it to supervise
                            windowAuxiliary[k] += a.getFloat();
                            l = l.add(Scalars.mul(a, aux.weight()));
                        }
                    }
                    gc.backward(l);
                }
                if (Float.isFinite(loss) && clipAndStep(params, adam, config.learningRateAt(step))) {
                    windowLoss += loss;
                    windowSteps++;
                } else {
                    skipped++;
                    zeroGradients(params);
                    out.printf(Locale.ROOT, "step %d: non-finite loss or gradient, update skipped (%d so far)%n", step, skipped);
                }
            }
            if (step % config.logEvery() == 0 || step == config.steps()) {
                lastLoss = windowSteps == 0 ? Double.NaN : windowLoss / windowSteps;
                double elapsed = (System.nanoTime() - start) / 1e9;
                double eta = elapsed / step * (config.steps() - step);
                StringBuilder aux = new StringBuilder();
                for (int k = 0; k < auxiliaries.size(); k++) {
                    aux.append(String.format(Locale.ROOT, "  %s %.4f", auxiliaries.get(k).name(), windowAuxiliary[k] / config.logEvery()));
                }
                out.printf(Locale.ROOT, "step %5d/%d  loss %.4f%s  lr %.2e  %.2f s/step  elapsed %s  eta %s%n",
                        step, config.steps(), lastLoss, aux, config.learningRateAt(step), elapsed / step,
                        clock(elapsed), clock(eta));
                java.util.Arrays.fill(windowAuxiliary, 0);
                windowLoss = 0;
                windowSteps = 0;
            }
            if (config.evalEvery() > 0 && step % config.evalEvery() == 0 && step < config.steps()) {
                EvalReport r = new VqaEvaluator(100).evaluate("step " + step, vqa, quickEval, manager, n -> { });
                out.printf(Locale.ROOT, "quick eval at step %d (%d samples per domain):%n%s",
                        step, config.evalSamples(), r.toTable());
            }
        }
        if (attention != null) {
            attention.close();
        }
        return new Result(lastLoss, (System.nanoTime() - start) / 1e9);
    }

    /** A training-only loss computed from the model's forward output; null when the batch has nothing for it. */
    @FunctionalInterface
    private interface AuxiliaryLoss {
        NDArray loss(NDList modelOutput, VqaBatch batch, List<GroundedSample> grounded, NDManager manager);
    }

    private record Auxiliary(String name, float weight, AuxiliaryLoss loss) {}

    /** One batch of fresh samples, domains drawn equally; relation slots (see {@link TrainConfig#relationShare()}) redraw until they hold a relation question. */
    List<GroundedSample> drawBatch(SyntheticWorld world, SplittableRandom rng, int step) {
        Domain[] domains = Domain.values();
        List<GroundedSample> grounded = new ArrayList<>(config.batchSize());
        for (int i = 0; i < config.batchSize(); i++) {
            Domain d = domains[rng.nextInt(domains.length)];
            boolean relationSlot = config.relationShare() > 0 && rng.nextDouble() < config.relationShare();
            GroundedSample g;
            do {
                g = world.sampleGrounded(d, rng, "train-" + step + "-" + i);
            } while (relationSlot && g.sample().type() != QuestionType.RELATION);
            grounded.add(g);
        }
        return grounded;
    }

    private List<VqaSample> quickEvalSet(SyntheticWorld world) {
        List<VqaSample> set = new ArrayList<>();
        if (config.evalEvery() > 0) {
            for (Domain d : Domain.values()) {
                set.addAll(world.evalSet(d).subList(0, config.evalSamples()));
            }
        }
        return set;
    }

    /**
     * Scales gradients to the global-norm limit, then lets Adam update (which also zeroes them).
     * Returns false, updating nothing, when the norm is not finite.
     */
    private boolean clipAndStep(Map<String, NDArray> params, AdamW adam, float learningRate) {
        List<NDArray> grads = new ArrayList<>(params.size());
        double sumSquares = 0;
        for (NDArray p : params.values()) {
            NDArray g = p.getGradient();
            grads.add(g);
            // Temporaries of a parameter's gradient live on the model's manager: close them here.
            try (NDArray squares = g.square(); NDArray sum = squares.sum()) {
                sumSquares += sum.getFloat();
            }
        }
        double norm = Math.sqrt(sumSquares);
        if (!Double.isFinite(norm)) {
            grads.forEach(NDArray::close);
            return false;
        }
        grads.forEach(NDArray::close);
        float factor = norm > config.gradientClipNorm() ? (float) (config.gradientClipNorm() / norm) : 1f;
        adam.stepArrays(params, learningRate, factor);
        return true;
    }

    private static void zeroGradients(Map<String, NDArray> params) {
        for (NDArray p : params.values()) {
            try (NDArray g = p.getGradient()) {
                g.set(new ai.djl.ndarray.index.NDIndex("..."), 0f); // g - g would keep NaN and inf
            }
        }
    }

    static String clock(double seconds) {
        long s = Math.round(seconds);
        return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
    }
}
