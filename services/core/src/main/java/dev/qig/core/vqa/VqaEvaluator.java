package dev.qig.core.vqa;

import ai.djl.ndarray.NDManager;
import dev.qig.data.VqaSample;
import java.util.List;
import java.util.function.IntConsumer;

/** Runs a model over VQA samples in batches: greedy exact match plus teacher-forced log-likelihood. */
public final class VqaEvaluator {

    private final int batchSize;

    public VqaEvaluator(int batchSize) {
        if (batchSize <= 0) {
            throw new IllegalArgumentException("batchSize must be positive");
        }
        this.batchSize = batchSize;
    }

    /**
     * Evaluates every sample; {@code progress} receives the number of samples done after each batch.
     */
    public EvalReport evaluate(String label, VqaModel model, List<VqaSample> samples, NDManager manager,
                               IntConsumer progress) {
        return evaluate(label, model, samples, null, manager, progress);
    }

    /** The full-precision answer distributions of samples, for {@link #evaluate} with KL. */
    public List<float[]> referenceDistributions(VqaModel model, List<VqaSample> samples, NDManager manager) {
        List<float[]> out = new java.util.ArrayList<>(samples.size());
        for (int from = 0; from < samples.size(); from += batchSize) {
            out.addAll(List.of(model.answerLogProbs(samples.subList(from, Math.min(samples.size(), from + batchSize)), manager)));
        }
        return out;
    }

    /**
     * Evaluates every sample and, when {@code reference} (from {@link #referenceDistributions} on the
     * full-precision model) is given, the KL of the answer distribution to it.
     */
    public EvalReport evaluate(String label, VqaModel model, List<VqaSample> samples, List<float[]> reference,
                               NDManager manager, IntConsumer progress) {
        EvalReport report = new EvalReport(label);
        int vocab = model.model().config().vocabSize();
        for (int from = 0; from < samples.size(); from += batchSize) {
            List<VqaSample> chunk = samples.subList(from, Math.min(samples.size(), from + batchSize));
            List<String> answers = model.generate(chunk, manager);
            double[] ll = model.answerLogLikelihood(chunk, manager);
            float[][] lp = reference == null ? null : model.answerLogProbs(chunk, manager);
            for (int i = 0; i < chunk.size(); i++) {
                VqaSample s = chunk.get(i);
                double kl = lp == null ? Double.NaN : VqaModel.meanKl(reference.get(from + i), lp[i], vocab);
                report.add(s.id(), s.domain(), s.type(), exactMatch(answers.get(i), s.answer()), ll[i], kl);
            }
            progress.accept(from + chunk.size());
        }
        return report;
    }

    /**
     * Whether a generated answer is the expected one after the usual VQA normalization: case,
     * punctuation, the articles a/an/the and runs of white space do not count.
     */
    public static boolean exactMatch(String generated, String expected) {
        return normalize(generated).equals(normalize(expected));
    }

    static String normalize(String answer) {
        String text = answer.toLowerCase(java.util.Locale.ROOT).replaceAll("[\\p{Punct}&&[^']]", " ");
        return java.util.Arrays.stream(text.strip().split("\\s+"))
                .filter(w -> !w.equals("a") && !w.equals("an") && !w.equals("the"))
                .collect(java.util.stream.Collectors.joining(" "));
    }
}
