package dev.qig.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.qig.data.GroundedSample;
import dev.qig.data.QuestionType;
import dev.qig.data.Relation;
import dev.qig.data.SceneObject;
import dev.qig.core.model.LvlmConfig;
import dev.qig.core.model.SeededInitializer;
import dev.qig.core.vqa.VqaBatch;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Auxiliary losses for relation questions ("is the A left of the B ?"), used only in training and
 * thrown away with their heads afterwards. The answer loss alone leaves relation at chance: the
 * answer needs a chain of bindings (each noun phrase to its patch, each patch to its role, both
 * positions to the answer position, their comparison) and gives no signal until the whole chain
 * works. Its last link is a product (which relation is asked, times which relations hold), so every
 * single feature is uncorrelated with the balanced yes/no answer. Linear probes give each link its own signal:
 * <ul>
 *   <li>roles: at every vision token, after decoder layer {@code roleLayer}, a 3-way softmax says
 *       whether the patch holds the subject (A), the reference (B) or neither;
 *   <li>positions: at the position that predicts the answer, after decoder layer {@code answerLayer}
 *       (-1: the final normalized hidden state), four softmaxes over the grid give the row and column
 *       of the subject and of the reference;
 *   <li>truths: at the same place, four 2-way softmaxes say whether A is left of, right of, above and
 *       below B, whichever relation the question asks; the answer then only has to pick one.
 * </ul>
 * Each is a mean cross-entropy over the relation questions of the batch; the loss is their sum.
 */
final class RelationSupervision {

    private static final int ROLES = 3; // none, subject, reference
    private static final int COORDINATES = 4; // subject row, subject column, reference row, reference column
    private static final Relation[] RELATIONS = Relation.values();

    private final NDArray roleWeight;
    private final NDArray roleBias;
    private final NDArray positionWeight;
    private final NDArray positionBias;
    private final NDArray truthWeight;
    private final NDArray truthBias;
    private final int grid;
    private final int roleLayer;
    private final int answerLayer;

    RelationSupervision(LvlmConfig config, int roleLayer, int answerLayer, NDManager manager, long seed) {
        if (roleLayer < 0 || roleLayer >= config.layers()) {
            throw new IllegalArgumentException("relation role layer must be in [0, " + config.layers() + "), got " + roleLayer);
        }
        if (answerLayer < -1 || answerLayer >= config.layers()) {
            throw new IllegalArgumentException("relation answer layer must be -1 or in [0, " + config.layers() + "), got " + answerLayer);
        }
        this.grid = config.imageSize() / config.patchSize();
        this.roleLayer = roleLayer;
        this.answerLayer = answerLayer;
        this.roleWeight = trainable(SeededInitializer.normal(manager, seed, new Shape(config.hidden(), ROLES), 0.02));
        this.roleBias = trainable(manager.zeros(new Shape(ROLES)));
        this.positionWeight = trainable(
                SeededInitializer.normal(manager, seed + 1, new Shape(config.hidden(), COORDINATES * grid), 0.02));
        this.positionBias = trainable(manager.zeros(new Shape(COORDINATES * grid)));
        this.truthWeight = trainable(
                SeededInitializer.normal(manager, seed + 2, new Shape(config.hidden(), RELATIONS.length * 2), 0.02));
        this.truthBias = trainable(manager.zeros(new Shape(RELATIONS.length * 2)));
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
        out.put("relation_truth_head.weight", truthWeight);
        out.put("relation_truth_head.bias", truthBias);
        return out;
    }

    /** Role plus position plus truth loss, from the model's forward output; null when the batch has no relation question. */
    NDArray loss(NDList modelOutput, VqaBatch batch, List<GroundedSample> grounded, NDManager s) {
        int rows = batch.rows();
        int t = batch.length();
        int patches = grid * grid;
        float[] roleTargets = new float[rows * t * ROLES];
        float[] answerPosition = new float[rows * t];
        float[] positionTargets = new float[rows * COORDINATES * grid];
        float[] truthTargets = new float[rows * RELATIONS.length * 2];
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
            for (Relation relation : RELATIONS) {
                truthTargets[(r * RELATIONS.length + relation.ordinal()) * 2 + (relation.holds(subject, reference) ? 1 : 0)] = 1f;
            }
        }
        if (questions == 0) {
            return null;
        }
        NDArray roleLogProbs = modelOutput.get(2 + roleLayer).matMul(roleWeight).add(roleBias).logSoftmax(2);
        NDArray roleLoss = roleLogProbs.mul(s.create(roleTargets, new Shape(rows, t, ROLES))).sum().neg()
                .div(s.create((float) questions * patches));
        // The hidden state at each row's answer-predicting position, (B, hidden).
        NDArray answerSide = modelOutput.get(answerLayer < 0 ? 1 : 2 + answerLayer);
        NDArray atAnswer = answerSide.mul(s.create(answerPosition, new Shape(rows, t, 1))).sum(new int[] {1});
        NDArray positionLogProbs = atAnswer.matMul(positionWeight).add(positionBias)
                .reshape(rows, COORDINATES, grid).logSoftmax(2);
        NDArray positionLoss = positionLogProbs.mul(s.create(positionTargets, new Shape(rows, COORDINATES, grid)))
                .sum().neg().div(s.create((float) questions * COORDINATES));
        NDArray truthLogProbs = atAnswer.matMul(truthWeight).add(truthBias).reshape(rows, RELATIONS.length, 2).logSoftmax(2);
        NDArray truthLoss = truthLogProbs.mul(s.create(truthTargets, new Shape(rows, RELATIONS.length, 2)))
                .sum().neg().div(s.create((float) questions * RELATIONS.length));
        return roleLoss.add(positionLoss).add(truthLoss);
    }
}
