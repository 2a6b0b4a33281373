package dev.qig.core.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qig.core.data.GroundedSample;
import dev.qig.core.data.QuestionType;
import dev.qig.core.data.SceneObject;
import dev.qig.core.model.LvlmConfig;
import dev.qig.core.vqa.VqaBatch;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Auxiliary losses for relation questions ("is the A left of the B ?"), used only in training and
 * thrown away with their heads afterwards. The answer loss alone leaves relation at chance: the
 * answer needs a chain of bindings (each noun phrase to its patch, each patch to its role, both
 * positions to the answer position) and gives no signal until the whole chain works. Two linear
 * probes give each link its own signal:
 * <ul>
 *   <li>roles: at every vision token, after decoder layer {@code roleLayer}, a 3-way softmax says
 *       whether the patch holds the subject (A), the reference (B) or neither;
 *   <li>positions: at the position that predicts the answer, on the final normalized hidden state,
 *       four softmaxes over the grid give the row and column of the subject and of the reference.
 * </ul>
 * Both are mean cross-entropies over the relation questions of the batch, summed.
 */
final class RelationSupervision {

    private static final int ROLES = 3; // none, subject, reference
    private static final int COORDINATES = 4; // subject row, subject column, reference row, reference column

    private final NDArray roleWeight;
    private final NDArray roleBias;
    private final NDArray positionWeight;
    private final NDArray positionBias;
    private final int grid;
    private final int roleLayer;

    RelationSupervision(LvlmConfig config, int roleLayer, NDManager manager, long seed) {
        if (roleLayer < 0 || roleLayer >= config.layers()) {
            throw new IllegalArgumentException("relation role layer must be in [0, " + config.layers() + "), got " + roleLayer);
        }
        this.grid = config.imageSize() / config.patchSize();
        this.roleLayer = roleLayer;
        manager.getEngine().setRandomSeed((int) seed);
        this.roleWeight = trainable(manager.randomNormal(0, 0.02f, new Shape(config.hidden(), ROLES), DataType.FLOAT32));
        this.roleBias = trainable(manager.zeros(new Shape(ROLES)));
        this.positionWeight = trainable(
                manager.randomNormal(0, 0.02f, new Shape(config.hidden(), COORDINATES * grid), DataType.FLOAT32));
        this.positionBias = trainable(manager.zeros(new Shape(COORDINATES * grid)));
    }

    private static NDArray trainable(NDArray a) {
        a.setRequiresGradient(true);
        return a;
    }

    /** The heads' trainable arrays, by name. */
    Map<String, NDArray> weights() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        out.put("relation_role_head.weight", roleWeight);
        out.put("relation_role_head.bias", roleBias);
        out.put("relation_position_head.weight", positionWeight);
        out.put("relation_position_head.bias", positionBias);
        return out;
    }

    /** Role plus position loss, from the model's forward output; null when the batch has no relation question. */
    NDArray loss(NDList modelOutput, VqaBatch batch, List<GroundedSample> grounded, NDManager s) {
        int rows = batch.rows();
        int t = batch.length();
        int patches = grid * grid;
        float[] roleTargets = new float[rows * t * ROLES];
        float[] answerPosition = new float[rows * t];
        float[] positionTargets = new float[rows * COORDINATES * grid];
        int questions = 0;
        for (int r = 0; r < rows; r++) {
            GroundedSample g = grounded.get(r);
            if (g.sample().type() != QuestionType.RELATION) {
                continue;
            }
            questions++;
            SceneObject subject = g.referents().get(0);
            SceneObject reference = g.referents().get(1);
            int first = r * t + batch.imageStart(r);
            for (int p = 0; p < patches; p++) {
                int role = p == subject.patch() ? 1 : p == reference.patch() ? 2 : 0;
                roleTargets[(first + p) * ROLES + role] = 1f;
            }
            answerPosition[r * t + batch.answerStart(r) - 1] = 1f;
            int[] coordinates = {subject.row(), subject.col(), reference.row(), reference.col()};
            for (int k = 0; k < COORDINATES; k++) {
                positionTargets[(r * COORDINATES + k) * grid + coordinates[k]] = 1f;
            }
        }
        if (questions == 0) {
            return null;
        }
        NDArray roleLogProbs = modelOutput.get(2 + roleLayer).matMul(roleWeight).add(roleBias).logSoftmax(2);
        NDArray roleLoss = roleLogProbs.mul(s.create(roleTargets, new Shape(rows, t, ROLES))).sum().neg()
                .div(s.create((float) questions * patches));
        // The hidden state at each row's answer-predicting position, (B, hidden).
        NDArray atAnswer = modelOutput.get(1).mul(s.create(answerPosition, new Shape(rows, t, 1))).sum(new int[] {1});
        NDArray positionLogProbs = atAnswer.matMul(positionWeight).add(positionBias)
                .reshape(rows, COORDINATES, grid).logSoftmax(2);
        NDArray positionLoss = positionLogProbs.mul(s.create(positionTargets, new Shape(rows, COORDINATES, grid)))
                .sum().neg().div(s.create((float) questions * COORDINATES));
        return roleLoss.add(positionLoss);
    }
}
