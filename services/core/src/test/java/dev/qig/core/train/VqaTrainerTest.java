package dev.qig.core.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.qig.core.data.Vocabulary;
import dev.qig.core.model.LvlmConfig;
import dev.qig.core.model.VisionLanguageModel;
import dev.qig.core.vqa.VqaModel;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** A few real optimizer steps on a narrow model: the loss falls and progress is printed. */
class VqaTrainerTest {

    private static LvlmConfig narrow() {
        return new LvlmConfig(48, 12, 16, 1, 2, 32, 64, 128, 2, 4, 2, Vocabulary.standard().size(), 64, 10_000.0, 1e-6, 1e-6);
    }

    @Test
    void trainingLowersTheAnswerLossAndReportsProgress() {
        TrainConfig config = new TrainConfig(60, 16, 3e-3f, 10, 0.1f, 1.0f, 3L, 20, 0, 0, 1.0f, 0);
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
    void visionPretrainingLearnsPatchAttributes() {
        try (NDManager m = NDManager.newBaseManager()) {
            LvlmConfig wider = new LvlmConfig(48, 12, 64, 1, 2, 128, 64, 128, 1, 4, 2, Vocabulary.standard().size(), 64,
                    10_000.0, 1e-6, 1e-6);
            VisionLanguageModel model = VisionLanguageModel.create(wider, m, 4);
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            new VisionPretraining(200, 16, 3e-3f, 4, new PrintStream(log, true, StandardCharsets.UTF_8)).run(model, m);
            double[] losses = log.toString(StandardCharsets.UTF_8).lines().filter(l -> l.startsWith("vision step"))
                    .mapToDouble(l -> Double.parseDouble(l.split("loss ")[1].split(" ")[0])).toArray();
            assertEquals(4, losses.length);
            // Three cross-entropies start near ln 6 + ln 5 + ln 3 = 4.5; predicting "none" everywhere
            // gives about 2; below that the tower reads objects off the image.
            assertTrue(losses[3] < 1.5, "vision losses " + java.util.Arrays.toString(losses) + "\n" + log);
        }
    }

    @Test
    void learningRateWarmsUpThenDecays() {
        TrainConfig c = new TrainConfig(1000, 8, 1e-3f, 100, 0.1f, 1.0f, 1L, 10, 0, 0, 0f, 0);
        assertEquals(1e-5f, c.learningRateAt(1), 1e-9f);
        assertEquals(1e-3f, c.learningRateAt(100), 1e-9f);
        assertTrue(c.learningRateAt(500) < 1e-3f && c.learningRateAt(500) > 1e-4f);
        assertEquals(1e-4f, c.learningRateAt(1000), 1e-8f);
    }
}
