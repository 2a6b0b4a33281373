package dev.qig.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.qig.data.GroundedSample;
import dev.qig.data.SceneObject;
import dev.qig.core.model.DecoderAttention;
import dev.qig.core.model.LvlmConfig;
import dev.qig.core.model.Scalars;
import dev.qig.core.model.VisionLanguageModel;
import dev.qig.core.vqa.VqaBatch;
import java.util.List;

/**
 * Auxiliary attention loss used only in training: one query head of one decoder layer, at the
 * position that predicts the first answer token, should put its attention on the patches of the
 * objects the question is about. Loss per sample: {@code -log(attention mass on the referent
 * patches)}, averaged over the samples that have referents. It supervises the hop the answer loss
 * alone learns last (which patch to read); with the grounding loss on an earlier layer, both hops
 * of the question-to-patch binding get a dense signal. Nothing of it stays in the checkpoint.
 */
final class AttentionSupervision implements AutoCloseable {

    private static final float EPSILON = 1e-6f;

    private final DecoderAttention attention;
    private final int kvHead;
    private final int groupHead;
    private final int grid;
    /** Holds the captured probabilities past the layer's scope, which frees its temporaries as the layer ends. */
    private final NDManager kept = NDManager.newBaseManager();
    private NDArray captured;

    /** Supervises query head {@code head} of decoder layer {@code layer}; listens until closed. */
    AttentionSupervision(VisionLanguageModel model, int layer, int head) {
        LvlmConfig c = model.config();
        if (layer < 0 || layer >= c.layers() || head < 0 || head >= c.heads()) {
            throw new IllegalArgumentException("no head " + head + " in layer " + layer);
        }
        int group = c.heads() / c.kvHeads();
        this.attention = model.layers().get(layer).attention();
        this.kvHead = head / group;
        this.groupHead = head % group;
        this.grid = c.imageSize() / c.patchSize();
        attention.setProbabilityListener(p -> {
            if (captured != null) {
                captured.close(); // a forward pass whose loss was never taken
            }
            captured = p.get(new NDIndex(":, {}, {}", kvHead, groupHead)); // (B,T,T), still in the recorded graph
            captured.attach(kept);
        });
    }

    /** The loss of the last forward pass; null when no sample of the batch has referents. */
    NDArray loss(VqaBatch batch, List<GroundedSample> grounded, NDManager s) {
        if (captured == null) {
            throw new IllegalStateException("no forward pass seen");
        }
        int rows = batch.rows();
        int t = batch.length();
        float[] query = new float[rows * t];
        float[] target = new float[rows * t];
        float[] has = new float[rows];
        int counted = 0;
        for (int r = 0; r < rows; r++) {
            List<SceneObject> referents = grounded.get(r).referents();
            if (referents.isEmpty()) {
                continue;
            }
            has[r] = 1f;
            counted++;
            query[r * t + batch.answerStart(r) - 1] = 1f;
            int first = batch.imageStart(r);
            for (SceneObject o : referents) {
                target[r * t + first + o.row() * grid + o.col()] = 1f;
            }
        }
        NDArray probs = captured;
        probs.attach(s);
        captured = null;
        if (counted == 0) {
            return null;
        }
        NDArray atQuery = s.create(query, new Shape(rows, 1, t)).matMul(probs).reshape(rows, t);
        NDArray mass = atQuery.mul(s.create(target, new Shape(rows, t))).sum(new int[] {1});
        return Scalars.div(mass.add(EPSILON).log().mul(s.create(has, new Shape(rows))).sum(), counted).neg();
    }

    @Override
    public void close() {
        attention.setProbabilityListener(null);
        captured = null;
        kept.close();
    }
}
