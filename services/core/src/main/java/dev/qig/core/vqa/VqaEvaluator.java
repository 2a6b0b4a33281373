package dev.qig.core.vqa;

import ai.djl.ndarray.NDManager;
import dev.qig.core.data.VqaSample;
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
        EvalReport report = new EvalReport(label);
        for (int from = 0; from < samples.size(); from += batchSize) {
            List<VqaSample> chunk = samples.subList(from, Math.min(samples.size(), from + batchSize));
            List<String> answers = model.generate(chunk, manager);
            double[] ll = model.answerLogLikelihood(chunk, manager);
            for (int i = 0; i < chunk.size(); i++) {
                VqaSample s = chunk.get(i);
                report.add(s.domain(), s.type(), answers.get(i).equals(s.answer()), ll[i]);
            }
            progress.accept(from + chunk.size());
        }
        return report;
    }
}
