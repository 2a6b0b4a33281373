package dev.qig.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.qig.data.GroundedSample;
import dev.qig.data.SceneObject;
import dev.qig.core.model.LvlmConfig;
import dev.qig.core.model.SeededInitializer;
import dev.qig.core.vqa.VqaBatch;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Auxiliary grounding loss used only in training (thrown away with the head afterwards): a linear
 * probe at every vision token predicts whether that patch holds an object the question is about
 * (the sample's referents). It teaches the vision tokens to read the question that precedes them,
 * which the sparse answer loss alone teaches only after a long plateau; grounding supervision of
 * this kind is common in grounded VQA training. The probe reads the decoder's final normalized
 * hidden state ({@link #FINAL}), or the residual stream after one decoder layer.
 */
final class GroundingHead {

    /** Layer index meaning the final normalized hidden state. */
    static final int FINAL = -1;

    private final NDArray weight;
    private final NDArray bias;
    private final int grid;
    private final int layer;

    GroundingHead(LvlmConfig config, int layer, NDManager manager, long seed) {
        if (layer < FINAL || layer >= config.layers()) {
            throw new IllegalArgumentException("grounding layer must be -1 (final) or in [0, " + config.layers()
                    + "), got " + layer);
        }
        this.weight = SeededInitializer.normal(manager, seed, new Shape(config.hidden()), 0.02);
        this.bias = manager.zeros(new Shape(1));
        weight.setRequiresGradient(true);
        bias.setRequiresGradient(true);
        this.grid = config.imageSize() / config.patchSize();
        this.layer = layer;
    }

    /** The head's trainable arrays, by name. */
    Map<String, NDArray> weights() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        out.put("grounding_head.weight", weight);
        out.put("grounding_head.bias", bias);
        return out;
    }

    /** Mean binary cross-entropy over the vision tokens of the batch, from the model's forward output. */
    NDArray loss(NDList modelOutput, VqaBatch batch, List<GroundedSample> grounded, NDManager s) {
        NDArray hidden = modelOutput.get(layer == FINAL ? 1 : 2 + layer);
        int rows = batch.rows();
        int t = batch.length();
        float[] labels = new float[rows * t];
        float[] mask = new float[rows * t];
        for (int r = 0; r < rows; r++) {
            int first = batch.imageStart(r);
            Arrays.fill(mask, r * t + first, r * t + first + grid * grid, 1f);
            for (SceneObject o : grounded.get(r).referents()) {
                labels[r * t + first + o.row() * grid + o.col()] = 1f;
            }
        }
        NDArray logits = hidden.matMul(weight).add(bias); // (B,T)
        NDArray y = s.create(labels, new Shape(rows, t));
        NDArray m = s.create(mask, new Shape(rows, t));
        // Stable BCE with logits: max(z,0) - z*y + log(1 + exp(-|z|)); relu, not maximum(0f), keeps
        // the graph free of Java-owned scalars (see Scalars).
        NDArray bce = logits.getNDArrayInternal().relu().sub(logits.mul(y)).add(logits.abs().neg().exp().add(1f).log());
        return bce.mul(m).sum().div(m.sum());
    }
}
