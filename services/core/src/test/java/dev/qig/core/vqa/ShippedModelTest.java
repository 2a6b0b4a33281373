package dev.qig.core.vqa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.qig.data.Domain;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.Vocabulary;
import dev.qig.data.VqaSample;
import dev.qig.core.model.Checkpoint;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The checkpoint shipped in the jar loads and still answers the held-out questions. */
class ShippedModelTest {

    @Test
    void shippedCheckpointAnswersAHeldOutSubsetAccurately() throws Exception {
        SyntheticWorld world = new SyntheticWorld();
        List<VqaSample> subset = new ArrayList<>();
        for (Domain d : Domain.values()) {
            subset.addAll(world.evalSet(d).subList(0, 50));
        }
        try (NDManager m = NDManager.newBaseManager()) {
            Checkpoint.Loaded loaded = Checkpoint.load(Checkpoint.SHIPPED, m);
            assertEquals(Vocabulary.standard().words(), loaded.vocabulary(), "the checkpoint's vocabulary is this build's");
            VqaModel vqa = loaded.vqa();
            EvalReport r = new VqaEvaluator(100).evaluate("shipped", vqa, subset, m, n -> { });
            // The full held-out sets measure 97.4% mean (MODEL_CARD.md, README); the answer prior is
            // about 30%. 200 questions leave a few points of noise.
            assertTrue(r.meanAccuracy() >= 0.92, "mean accuracy on 200 held-out questions: " + r.meanAccuracy() + "\n" + r.toTable());
            for (Domain d : Domain.values()) {
                assertTrue(r.meanLogLikelihood(d) > -0.4, d + " answer log-likelihood " + r.meanLogLikelihood(d));
            }
        }
    }
}
