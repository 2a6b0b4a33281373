package dev.qig.core.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qig.core.data.GroundedSample;
import dev.qig.core.data.QuestionType;
import dev.qig.core.data.SceneObject;
import dev.qig.core.data.TokenModality;
import dev.qig.core.model.LvlmConfig;
import dev.qig.core.model.Scalars;
import dev.qig.core.vqa.VqaBatch;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Auxiliary grounding loss used only in training (thrown away with the head afterwards): a linear
 * probe on the residual stream after decoder layer {@code layer}, at every vision token, predicts
 * for two roles whether that patch holds an object the question is about. Role 0 is the object
 * asked about (every counted object, the object found, a relation's subject); role 1 is a
 * relation's reference object. It teaches the vision tokens to read the question that precedes
 * them, which the sparse answer loss alone teaches only after a long plateau; probing an early
 * layer leaves the layers above it to read the flags (retrieve, count, compare). Grounding
 * supervision of this kind is common in grounded VQA training.
 */
final class GroundingHead {

    static final int ROLES = 2;

    private final NDArray weight;
    private final NDArray bias;
    private final int grid;
    private final int layer;

    GroundingHead(LvlmConfig config, int layer, NDManager manager, long seed) {
        if (layer < 0 || layer >= config.layers()) {
            throw new IllegalArgumentException("grounding layer must be in [0, " + config.layers() + "), got " + layer);
        }
        manager.getEngine().setRandomSeed((int) seed);
        this.weight = manager.randomNormal(0, 0.02f, new Shape(config.hidden(), ROLES), DataType.FLOAT32);
        this.bias = manager.zeros(new Shape(ROLES));
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

    /** Mean binary cross-entropy over the vision tokens and roles of the batch, from the model's forward output. */
    NDArray loss(NDList modelOutput, VqaBatch batch, List<GroundedSample> grounded, NDManager s) {
        NDArray hidden = modelOutput.get(2 + layer);
        int rows = batch.rows();
        int t = batch.length();
        float[] labels = new float[rows * t * ROLES];
        float[] mask = new float[rows * t];
        for (int r = 0; r < rows; r++) {
            TokenModality[] modality = batch.modality(r);
            int first = -1;
            for (int p = 0; p < t; p++) {
                if (modality[p] == TokenModality.VISION) {
                    first = first < 0 ? p : first;
                    mask[r * t + p] = 1f;
                }
            }
            GroundedSample g = grounded.get(r);
            List<SceneObject> referents = g.referents();
            boolean relation = g.sample().type() == QuestionType.RELATION;
            for (int i = 0; i < referents.size(); i++) {
                SceneObject o = referents.get(i);
                int role = relation && i == 1 ? 1 : 0;
                labels[((r * t) + first + o.row() * grid + o.col()) * ROLES + role] = 1f;
            }
        }
        NDArray logits = hidden.matMul(weight).add(bias); // (B,T,ROLES)
        NDArray y = s.create(labels, new Shape(rows, t, ROLES));
        NDArray m = s.create(mask, new Shape(rows, t, 1));
        // Stable BCE with logits: max(z,0) - z*y + log(1 + exp(-|z|)); relu, not maximum(0f), keeps
        // the graph free of Java-owned scalars (see Scalars).
        NDArray bce = logits.getNDArrayInternal().relu().sub(logits.mul(y)).add(logits.abs().neg().exp().add(1f).log());
        return bce.mul(m).sum().div(Scalars.mul(m.sum(), ROLES));
    }
}
