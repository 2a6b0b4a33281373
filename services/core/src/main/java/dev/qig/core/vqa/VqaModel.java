package dev.qig.core.vqa;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.ParameterStore;
import dev.qig.data.EncodedPrompt;
import dev.qig.data.Vocabulary;
import dev.qig.data.VisualQuestion;
import dev.qig.core.model.VisionLanguageModel;
import java.util.ArrayList;
import java.util.List;

/**
 * The VQA task on a {@link VisionLanguageModel}: the answer loss used for training and for the
 * gradient passes of calibration, teacher-forced answer scoring, and greedy generation of short
 * answers.
 */
public final class VqaModel {

    private final VisionLanguageModel model;
    private final VqaProcessor processor;

    /** The test-bed model with its word vocabulary. */
    public VqaModel(VisionLanguageModel model, Vocabulary vocabulary) {
        this(model, testBedProcessor(model, vocabulary));
    }

    public VqaModel(VisionLanguageModel model, VqaProcessor processor) {
        this.model = model;
        this.processor = processor;
    }

    private static TestBedProcessor testBedProcessor(VisionLanguageModel model, Vocabulary vocabulary) {
        if (vocabulary.size() != model.config().vocabSize()) {
            throw new IllegalArgumentException("vocabulary has " + vocabulary.size() + " words but the model expects "
                    + model.config().vocabSize());
        }
        return new TestBedProcessor(vocabulary, model.config().maxPositions(), model.config().imageSize());
    }

    public VisionLanguageModel model() {
        return model;
    }

    public VqaProcessor processor() {
        return processor;
    }

    /** The test-bed model's vocabulary (its training and plots are written for it). */
    public Vocabulary vocabulary() {
        if (processor instanceof TestBedProcessor testBed) {
            return testBed.vocabulary();
        }
        throw new UnsupportedOperationException("a Hugging Face checkpoint has a tokenizer, not the test bed's vocabulary");
    }

    /** The tokens of one sample as this model reads them. */
    public EncodedPrompt encode(String question, String answer) {
        return processor.encode(question, answer, model.config().visionTokens());
    }

    public VqaBatch teacherForced(List<? extends VisualQuestion> samples) {
        return VqaBatch.encode(samples, processor, model.config().visionTokens(), true, 0);
    }

    public NDArray logits(ParameterStore ps, VqaBatch batch, NDManager manager, boolean training) {
        return model.forward(ps, new NDList(batch.pixels(manager), batch.tokenIds(manager)), training).head();
    }

    /**
     * Mean cross-entropy over the answer tokens (answer words and {@code <eos>}) of a teacher-forced
     * batch, from its logits (B,T,V): a scalar.
     */
    public static NDArray answerLoss(NDArray logits, VqaBatch batch, NDManager manager) {
        NDArray[] tw = batch.answerTargets(manager);
        NDArray picked = logits.logSoftmax(-1).gather(tw[0].expandDims(-1), 2).squeeze(-1);
        return picked.mul(tw[1]).sum().div(tw[1].sum()).neg();
    }

    /** Teacher-forced log-likelihood (natural log) of each sample's answer, summed over its tokens. */
    public double[] answerLogLikelihood(List<? extends VisualQuestion> samples, NDManager parent) {
        try (NDManager m = parent.newSubManager()) {
            VqaBatch batch = teacherForced(samples);
            NDArray[] tw = batch.answerTargets(m);
            NDArray logp = logits(new ParameterStore(m, false), batch, m, false).logSoftmax(-1);
            float[] perRow = logp.gather(tw[0].expandDims(-1), 2).squeeze(-1).mul(tw[1]).sum(new int[] {1}).toFloatArray();
            double[] out = new double[perRow.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = perRow[i];
            }
            return out;
        }
    }

    /**
     * Teacher-forced next-token log-probabilities at every answer position of each sample: one
     * array of (answer tokens x vocabulary) per sample, row-major. The reference distribution for
     * the KL of a quantized model to full precision.
     */
    public float[][] answerLogProbs(List<? extends VisualQuestion> samples, NDManager parent) {
        try (NDManager m = parent.newSubManager()) {
            VqaBatch batch = teacherForced(samples);
            int v = model.config().vocabSize();
            int t = batch.length();
            float[] all = logits(new ParameterStore(m, false), batch, m, false).logSoftmax(-1).toFloatArray();
            float[][] out = new float[batch.rows()][];
            for (int r = 0; r < batch.rows(); r++) {
                // Position p predicts token p+1: answer tokens are predicted from answerStart-1 on.
                int from = batch.answerStart(r) - 1;
                int n = batch.length(r) - batch.answerStart(r);
                out[r] = new float[n * v];
                System.arraycopy(all, (r * t + from) * v, out[r], 0, n * v);
            }
            return out;
        }
    }

    /** Mean over answer tokens of KL(reference || current), natural log. */
    public static double meanKl(float[] referenceLogProbs, float[] logProbs, int vocabSize) {
        int n = referenceLogProbs.length / vocabSize;
        double total = 0;
        for (int i = 0; i < n; i++) {
            double kl = 0;
            for (int k = 0; k < vocabSize; k++) {
                double lp = referenceLogProbs[i * vocabSize + k];
                kl += Math.exp(lp) * (lp - logProbs[i * vocabSize + k]);
            }
            total += kl;
        }
        return n == 0 ? 0 : total / n;
    }

    /**
     * Greedy answers, one string per sample (tokens up to a stop token). Re-runs the whole prefix at
     * every step: answers are a few tokens, so a KV cache would not pay for itself here.
     */
    public List<String> generate(List<? extends VisualQuestion> samples, NDManager parent) {
        int maxNew = processor.maxNewTokens();
        VqaBatch batch = VqaBatch.encode(samples, processor, model.config().visionTokens(), false, maxNew);
        int rows = batch.rows();
        int t = batch.length();
        int[] ids = batch.ids();
        int[] cursor = new int[rows];
        boolean[] done = new boolean[rows];
        List<List<Integer>> words = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            cursor[r] = batch.length(r);
            words.add(new ArrayList<>());
        }
        try (NDManager m = parent.newSubManager()) {
            NDArray pixels = batch.pixels(m);
            ParameterStore ps = new ParameterStore(m, false);
            for (int step = 0; step < maxNew; step++) {
                try (NDManager s = m.newSubManager()) {
                    NDArray tokens = s.create(ids, new ai.djl.ndarray.types.Shape(rows, t));
                    int[] next = model.forward(ps, new NDList(pixels, tokens), false).head()
                            .argMax(-1).toType(DataType.INT32, false).toIntArray();
                    boolean allDone = true;
                    for (int r = 0; r < rows; r++) {
                        if (done[r]) {
                            continue;
                        }
                        int token = next[r * t + cursor[r] - 1];
                        if (processor.isStop(token)) {
                            done[r] = true;
                        } else {
                            words.get(r).add(token);
                            ids[r * t + cursor[r]] = token;
                            cursor[r]++;
                            done[r] = step == maxNew - 1;
                        }
                        allDone &= done[r];
                    }
                    if (allDone) {
                        break;
                    }
                }
            }
        }
        List<String> answers = new ArrayList<>(rows);
        for (List<Integer> w : words) {
            answers.add(processor.answerText(w.stream().mapToInt(Integer::intValue).toArray()));
        }
        return answers;
    }
}
