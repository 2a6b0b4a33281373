package dev.qig.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import dev.qig.data.Domain;
import dev.qig.data.GroundedSample;
import dev.qig.data.SceneObject;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.TokenModality;
import dev.qig.data.Vocabulary;
import dev.qig.core.model.LvlmConfig;
import dev.qig.core.model.VisionLanguageModel;
import dev.qig.core.vqa.VqaBatch;
import dev.qig.core.vqa.VqaModel;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A few real optimizer steps on a narrow model: the loss falls and progress is printed. */
class VqaTrainerTest {

    private static LvlmConfig narrow() {
        return LvlmConfig.builder().imageSize(48).patchSize(12).visionHidden(16).visionLayers(1).visionHeads(2).visionIntermediate(32).hidden(64).intermediate(128).layers(2).heads(4).kvHeads(2).vocabSize(Vocabulary.standard().size()).maxPositions(64).ropeTheta(10_000.0).rmsNormEps(1e-6).layerNormEps(1e-6).build();
    }

    @Test
    void trainingLowersTheAnswerLossAndReportsProgress() {
        TrainConfig config = TrainConfig.builder().steps(60).batchSize(16).learningRate(3e-3f).warmupSteps(10)
                .minLearningRateFraction(0.1f).seed(3L).logEvery(20).evalEvery(0).evalSamples(0)
                .freezeVisionTower(false).relationWeight(0f).relationAnswerLayer(-1).relationShare(0f).build();
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try (NDManager m = NDManager.newBaseManager()) {
            VqaModel vqa = new VqaModel(VisionLanguageModel.create(narrow(), m, 3), Vocabulary.standard());
            VqaTrainer.Result r = new VqaTrainer(config, new PrintStream(log, true, StandardCharsets.UTF_8)).train(vqa, m);
            String text = log.toString(StandardCharsets.UTF_8);
            assertTrue(text.contains("step    20/60"), text);
            double first = Double.parseDouble(text.lines().filter(l -> l.startsWith("step    20/60"))
                    .findFirst().orElseThrow().split("loss ")[1].split(" ")[0]);
            // Answer priors alone take the loss from ln(50) ~ 3.9 per token to well under 1.5.
            assertTrue(r.finalLoss() < first, "loss " + first + " -> " + r.finalLoss());
            assertTrue(r.finalLoss() < 1.5, "final loss " + r.finalLoss());
        }
    }

    @Test
    void auxiliaryLossesFallAndAreReported() {
        TrainConfig config = TrainConfig.builder().steps(60).batchSize(16).learningRate(3e-3f).warmupSteps(10)
                .minLearningRateFraction(0.1f).seed(3L).logEvery(20).evalEvery(0).evalSamples(0).groundingLayer(0)
                .attentionWeight(1.0f).freezeVisionTower(false).relationLayer(0).relationAnswerLayer(-1)
                .relationShare(0.5f).build();
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try (NDManager m = NDManager.newBaseManager()) {
            VqaModel vqa = new VqaModel(VisionLanguageModel.create(narrow(), m, 3), Vocabulary.standard());
            new VqaTrainer(config, new PrintStream(log, true, StandardCharsets.UTF_8)).train(vqa, m);
            String text = log.toString(StandardCharsets.UTF_8);
            double[] attention = text.lines().filter(l -> l.startsWith("step"))
                    .mapToDouble(l -> Double.parseDouble(l.split("attention ")[1].split(" ")[0])).toArray();
            double[] grounding = text.lines().filter(l -> l.startsWith("step"))
                    .mapToDouble(l -> Double.parseDouble(l.split("grounding ")[1].split(" ")[0])).toArray();
            double[] relation = text.lines().filter(l -> l.startsWith("step"))
                    .mapToDouble(l -> Double.parseDouble(l.split("relation ")[1].split(" ")[0])).toArray();
            assertEquals(3, attention.length, text);
            // Roles and positions start near ln 3 + ln 4 = 2.5; the class priors alone take them lower.
            assertTrue(relation[0] > 1.5 && relation[2] < relation[0], text);
            // -log(attention mass on the referents) starts near ln(T / referents) ~ 3 and must fall.
            assertTrue(attention[2] < attention[0], text);
            assertTrue(grounding[2] < grounding[0], text);
        }
    }

    @Test
    void trainingDoesNotDependOnWhatTheEnginesGlobalRandomGeneratorDrewBefore() {
        // Grounding, attention and relation heads on: every head's initial weights come from the seed alone.
        TrainConfig config = TrainConfig.builder().steps(6).batchSize(8).learningRate(3e-3f).warmupSteps(2)
                .minLearningRateFraction(0.1f).seed(3L).logEvery(3).evalEvery(0).evalSamples(0).groundingLayer(0)
                .attentionWeight(1.0f).freezeVisionTower(false).relationLayer(0).relationAnswerLayer(-1)
                .relationShare(0.5f).build();
        double[] losses = new double[2];
        for (int run = 0; run < 2; run++) {
            try (NDManager m = NDManager.newBaseManager()) {
                m.getEngine().setRandomSeed(100 + run); // another test's draws, different each time
                m.randomNormal(new ai.djl.ndarray.types.Shape(1000)).close();
                VqaModel vqa = new VqaModel(VisionLanguageModel.create(narrow(), m, 3), Vocabulary.standard());
                losses[run] = new VqaTrainer(config, new PrintStream(new ByteArrayOutputStream(), true,
                        StandardCharsets.UTF_8)).train(vqa, m).finalLoss();
            }
        }
        assertEquals(losses[0], losses[1], 0.0, "same seed, same training, whatever ran before");
    }

    @Test
    void relationShareSetsAFloorOnRelationQuestionsPerBatch() {
        SyntheticWorld world = new SyntheticWorld();
        for (float share : new float[] {0f, 0.5f, 1f}) {
            TrainConfig config = TrainConfig.builder().steps(1).batchSize(400).warmupSteps(0)
                    .minLearningRateFraction(0.1f).seed(3L).logEvery(1).evalEvery(0).evalSamples(0)
                    .groundingWeight(0f).freezeVisionTower(false).relationWeight(0f).relationAnswerLayer(-1)
                    .relationShare(share).build();
            long relations = new VqaTrainer(config, System.out).drawBatch(world, new java.util.SplittableRandom(3), 1).stream()
                    .filter(g -> g.sample().type() == dev.qig.data.QuestionType.RELATION).count();
            // The domains' own mixes give one relation question in four (a fifth of the questions in
            // three domains, 40% in qmix).
            double expected = share + (1 - share) * 0.25;
            assertEquals(expected, relations / 400.0, 0.08, "share " + share);
        }
    }

    @Test
    void attentionLossIsMinusLogOfTheMassOnReferentPatches() {
        try (NDManager m = NDManager.newBaseManager()) {
            VisionLanguageModel model = VisionLanguageModel.create(narrow(), m, 5);
            VqaModel vqa = new VqaModel(model, Vocabulary.standard());
            List<GroundedSample> grounded = new SyntheticWorld().generateGrounded(Domain.CLEAN, 6, 9L);
            VqaBatch batch = vqa.teacherForced(grounded.stream().map(GroundedSample::sample).toList());
            try (NDManager s = m.newSubManager()) {
                NDList input = new NDList(batch.pixels(s), batch.tokenIds(s));
                float[][] captured = new float[1][];
                model.layers().get(1).attention().setProbabilityListener(p -> captured[0] = p.toFloatArray());
                model.forward(new ParameterStore(s, false), input, false);
                float loss;
                try (AttentionSupervision supervision = new AttentionSupervision(model, 1, 3)) {
                    model.forward(new ParameterStore(s, false), input, false); // deterministic: same probabilities
                    loss = supervision.loss(batch, grounded, s).getFloat();
                }

                int t = batch.length();
                int kv = 3 / 2; // 4 query heads over 2 kv heads: head 3 is group member 1 of kv head 1
                int g = 3 % 2;
                double sum = 0;
                int counted = 0;
                for (int r = 0; r < batch.rows(); r++) {
                    if (grounded.get(r).referents().isEmpty()) {
                        continue;
                    }
                    int q = batch.answerStart(r) - 1;
                    int first = java.util.Arrays.asList(batch.modality(r)).indexOf(TokenModality.VISION);
                    double mass = 0;
                    for (SceneObject o : grounded.get(r).referents()) {
                        int key = first + o.row() * 4 + o.col();
                        mass += captured[0][(((r * 2 + kv) * 2 + g) * t + q) * t + key];
                    }
                    sum += -Math.log(mass + 1e-6);
                    counted++;
                }
                assertTrue(counted > 0);
                assertEquals(sum / counted, loss, 1e-4);
            }
        }
    }

    @Test
    void relationLossIsTheCrossEntropyOfRolesPositionsAndTruths() {
        try (NDManager m = NDManager.newBaseManager()) {
            VisionLanguageModel model = VisionLanguageModel.create(narrow(), m, 5);
            VqaModel vqa = new VqaModel(model, Vocabulary.standard());
            List<GroundedSample> all = new SyntheticWorld().generateGrounded(Domain.QMIX, 40, 9L);
            List<GroundedSample> grounded = all.subList(0, 8);
            List<GroundedSample> noRelation = all.stream()
                    .filter(g -> g.sample().type() != dev.qig.data.QuestionType.RELATION).limit(4).toList();
            assertTrue(grounded.stream().anyMatch(g -> g.sample().type() == dev.qig.data.QuestionType.RELATION));
            RelationSupervision supervision = new RelationSupervision(narrow(), 1, 0, m, 3L);
            try (NDManager s = m.newSubManager()) {
                VqaBatch batch = vqa.teacherForced(grounded.stream().map(GroundedSample::sample).toList());
                NDList out = model.forward(new ParameterStore(s, false), new NDList(batch.pixels(s), batch.tokenIds(s)), false);
                float loss = supervision.loss(out, batch, grounded, s).getFloat();

                // The same loss from the heads' weights, in Java: subject = first referent, reference = second.
                int t = batch.length();
                int h = narrow().hidden();
                float[] residual = out.get(3).toFloatArray(); // after decoder layer 1
                float[] answerSide = out.get(2).toFloatArray(); // after decoder layer 0
                float[] roleW = supervision.weights().get("relation_role_head.weight").toFloatArray();
                float[] roleB = supervision.weights().get("relation_role_head.bias").toFloatArray();
                float[] posW = supervision.weights().get("relation_position_head.weight").toFloatArray();
                float[] posB = supervision.weights().get("relation_position_head.bias").toFloatArray();
                float[] truthW = supervision.weights().get("relation_truth_head.weight").toFloatArray();
                float[] truthB = supervision.weights().get("relation_truth_head.bias").toFloatArray();
                double roles = 0;
                double positions = 0;
                double truths = 0;
                int questions = 0;
                for (int r = 0; r < batch.rows(); r++) {
                    GroundedSample g = grounded.get(r);
                    if (g.sample().type() != dev.qig.data.QuestionType.RELATION) {
                        continue;
                    }
                    questions++;
                    SceneObject a = g.referents().get(0);
                    SceneObject b = g.referents().get(1);
                    for (int p = 0; p < 16; p++) {
                        int role = p == a.patch() ? 1 : p == b.patch() ? 2 : 0;
                        roles -= logSoftmax(residual, (r * t + batch.imageStart(r) + p) * h, h, roleW, roleB, 0, 3)[role];
                    }
                    int[] target = {a.row(), a.col(), b.row(), b.col()};
                    for (int k = 0; k < 4; k++) {
                        positions -= logSoftmax(answerSide, (r * t + batch.answerStart(r) - 1) * h, h, posW, posB, 4 * k, 4)[target[k]];
                    }
                    // left of, right of, above, below: 1 when the subject stands in that relation to the reference
                    int[] truth = {a.col() < b.col() ? 1 : 0, a.col() > b.col() ? 1 : 0, a.row() < b.row() ? 1 : 0, a.row() > b.row() ? 1 : 0};
                    for (int k = 0; k < 4; k++) {
                        truths -= logSoftmax(answerSide, (r * t + batch.answerStart(r) - 1) * h, h, truthW, truthB, 2 * k, 2)[truth[k]];
                    }
                }
                assertEquals(roles / (questions * 16) + positions / (questions * 4) + truths / (questions * 4), loss, 1e-4);
                // Near-zero initial heads: about ln 3 + ln 4 + ln 2.
                assertEquals(Math.log(3) + Math.log(4) + Math.log(2), loss, 0.1);

                VqaBatch other = vqa.teacherForced(noRelation.stream().map(GroundedSample::sample).toList());
                NDList otherOut = model.forward(new ParameterStore(s, false), new NDList(other.pixels(s), other.tokenIds(s)), false);
                assertEquals(null, supervision.loss(otherOut, other, noRelation, s));
            }
        }
    }

    /** log-softmax of classes [from, from + n) of x[offset..offset+h) * w (h x columns, row-major) + b. */
    private static double[] logSoftmax(float[] x, int offset, int h, float[] w, float[] b, int from, int n) {
        int columns = b.length;
        double[] z = new double[n];
        double max = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < n; c++) {
            double v = b[from + c];
            for (int i = 0; i < h; i++) {
                v += x[offset + i] * w[i * columns + from + c];
            }
            z[c] = v;
            max = Math.max(max, v);
        }
        double sum = 0;
        for (double v : z) {
            sum += Math.exp(v - max);
        }
        double log = max + Math.log(sum);
        for (int c = 0; c < n; c++) {
            z[c] -= log;
        }
        return z;
    }

    @Test
    void visionPretrainingLearnsPatchAttributes() {
        double[] losses = visionPretrainingLog(200, false, "loss ", " ");
        assertEquals(4, losses.length);
        // Three cross-entropies start near ln 6 + ln 5 + ln 3 = 4.5; predicting "none" everywhere
        // gives about 2; below that the tower reads objects off the image.
        assertTrue(losses[3] < 1.5, "vision losses " + java.util.Arrays.toString(losses));
    }

    @Test
    void visionPretrainingCanTeachPatchPositions() {
        double[] position = visionPretrainingLog(200, true, "position accuracy ", "%");
        assertEquals(4, position.length);
        // Chance is 1 in 16 patches (6.25%); the position embedding makes it learnable.
        assertTrue(position[3] > 25 && position[3] > position[0], "position accuracy " + java.util.Arrays.toString(position));
    }

    /** Runs stage 1 on a narrow tower and returns one figure of every progress line. */
    private static double[] visionPretrainingLog(int steps, boolean positions, String before, String after) {
        try (NDManager m = NDManager.newBaseManager()) {
            LvlmConfig wider = LvlmConfig.builder().imageSize(48).patchSize(12).visionHidden(64).visionLayers(1).visionHeads(2).visionIntermediate(128).hidden(64).intermediate(128).layers(1).heads(4).kvHeads(2).vocabSize(Vocabulary.standard().size()).maxPositions(64).ropeTheta(10_000.0).rmsNormEps(1e-6).layerNormEps(1e-6).build();
            VisionLanguageModel model = VisionLanguageModel.create(wider, m, 4);
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            new VisionPretraining(steps, 16, 3e-3f, 4, positions, new PrintStream(log, true, StandardCharsets.UTF_8))
                    .run(model, m);
            return log.toString(StandardCharsets.UTF_8).lines().filter(l -> l.startsWith("vision step"))
                    .mapToDouble(l -> Double.parseDouble(l.split(before)[1].split(after)[0])).toArray();
        }
    }

    @Test
    void learningRateWarmsUpThenDecays() {
        TrainConfig c = TrainConfig.builder().steps(1000).batchSize(8).warmupSteps(100).minLearningRateFraction(0.1f)
                .seed(1L).logEvery(10).evalEvery(0).evalSamples(0).groundingWeight(0f).freezeVisionTower(false)
                .relationWeight(0f).relationAnswerLayer(-1).relationShare(0f).build();
        assertEquals(1e-5f, c.learningRateAt(1), 1e-9f);
        assertEquals(1e-3f, c.learningRateAt(100), 1e-9f);
        assertTrue(c.learningRateAt(500) < 1e-3f && c.learningRateAt(500) > 1e-4f);
        assertEquals(1e-4f, c.learningRateAt(1000), 1e-8f);
    }
}
