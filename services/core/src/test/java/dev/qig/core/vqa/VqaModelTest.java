package dev.qig.core.vqa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.qig.data.Domain;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.Vocabulary;
import dev.qig.data.VqaSample;
import dev.qig.core.model.LvlmConfig;
import dev.qig.core.model.VisionLanguageModel;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Generation, scoring and KL on a real (untrained, narrow) model. */
class VqaModelTest {

    private static VqaModel model(NDManager m) {
        LvlmConfig c = LvlmConfig.builder().imageSize(48).patchSize(12).visionHidden(16).visionLayers(1).visionHeads(2).visionIntermediate(32).hidden(64).intermediate(128).layers(2).heads(4).kvHeads(2).vocabSize(Vocabulary.standard().size()).maxPositions(64).ropeTheta(10_000.0).rmsNormEps(1e-6).layerNormEps(1e-6).build();
        return new VqaModel(VisionLanguageModel.create(c, m, 8), Vocabulary.standard());
    }

    @Test
    void scoresAreBatchIndependentAndKlToItselfIsZero() {
        try (NDManager m = NDManager.newBaseManager()) {
            VqaModel vqa = model(m);
            List<VqaSample> samples = new SyntheticWorld().generate(Domain.QMIX, 5, 3);
            double[] batched = vqa.answerLogLikelihood(samples, m);
            for (int i = 0; i < samples.size(); i++) {
                double alone = vqa.answerLogLikelihood(samples.subList(i, i + 1), m)[0];
                assertEquals(alone, batched[i], 1e-4, "sample " + i);
                assertTrue(batched[i] < 0);
            }
            float[][] lp = vqa.answerLogProbs(samples, m);
            int v = Vocabulary.standard().size();
            for (int i = 0; i < samples.size(); i++) {
                int answerTokens = samples.get(i).answer().split(" ").length + 1;
                assertEquals(answerTokens * v, lp[i].length);
                assertEquals(0.0, VqaModel.meanKl(lp[i], lp[i], v), 1e-9);
                // The teacher-forced log-likelihood is the sum of the picked log-probabilities.
                int[] ids = vqa.processor().encode(samples.get(i).question(), samples.get(i).answer(), 16).tokenIds();
                double sum = 0;
                for (int k = 0; k < answerTokens; k++) {
                    sum += lp[i][k * v + ids[ids.length - answerTokens + k]];
                }
                assertEquals(batched[i], sum, 1e-4);
            }
        }
    }

    @Test
    void greedyAnswersAreDeterministicAndOfBoundedLength() {
        try (NDManager m = NDManager.newBaseManager()) {
            VqaModel vqa = model(m);
            List<VqaSample> samples = new SyntheticWorld().generate(Domain.CLEAN, 6, 4);
            List<String> a = vqa.generate(samples, m);
            List<String> b = vqa.generate(samples, m);
            assertEquals(a, b);
            for (String answer : a) {
                assertTrue(answer.isEmpty() || answer.split(" ").length <= dev.qig.core.vqa.TestBedProcessor.MAX_NEW_TOKENS, answer);
            }
            // One sample alone gets the same answer as in the batch.
            assertEquals(a.get(3), vqa.generate(samples.subList(3, 4), m).get(0));
        }
    }

    @Test
    void klToTheReferenceIsTheHandComputedMeanOverAnswerTokens() {
        // Two answer tokens over a vocabulary of 3. Token 1: p = (1/2, 1/4, 1/4), q = (1/4, 1/2, 1/4):
        // KL(p||q) = 1/2 ln 2 + 1/4 ln(1/2) + 0 = ln(2) / 4. Token 2: p = q, KL 0. Mean: ln(2) / 8.
        float[] p = logs(0.5, 0.25, 0.25, 0.2, 0.3, 0.5);
        float[] q = logs(0.25, 0.5, 0.25, 0.2, 0.3, 0.5);
        assertEquals(Math.log(2) / 8, VqaModel.meanKl(p, q, 3), 1e-7);
        // Not symmetric: KL(q||p) = 1/4 ln(1/2) + 1/2 ln 2 = ln(2) / 4 as well here, so take a skewed pair.
        float[] a = logs(0.9, 0.05, 0.05);
        float[] b = logs(1 / 3.0, 1 / 3.0, 1 / 3.0);
        double ab = 0.9 * Math.log(0.9 * 3) + 2 * 0.05 * Math.log(0.05 * 3);
        double ba = 3 * (1 / 3.0) * 0 + (1 / 3.0) * (Math.log((1 / 3.0) / 0.9) + 2 * Math.log((1 / 3.0) / 0.05));
        assertEquals(ab, VqaModel.meanKl(a, b, 3), 1e-6);
        assertEquals(ba, VqaModel.meanKl(b, a, 3), 1e-6);
        assertEquals(0, VqaModel.meanKl(a, a, 3), 0);
    }

    private static float[] logs(double... probabilities) {
        float[] out = new float[probabilities.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) Math.log(probabilities[i]);
        }
        return out;
    }
}
