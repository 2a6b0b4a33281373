package dev.qig.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import java.util.HashMap;
import java.util.Map;

/**
 * Adam with decoupled weight decay, written out with tensor ops so that every step is visible:
 * {@code m = b1 m + (1-b1) g}, {@code v = b2 v + (1-b2) g^2},
 * {@code w -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) + lr wd w}. Gradients are zeroed
 * after each step. The state lives beside the weights; temporaries die in a per-step scope.
 */
final class AdamW {

    private final float beta1;
    private final float beta2;
    private final float epsilon;
    private final float weightDecay;
    private final Map<String, NDArray[]> state = new HashMap<>();
    private int step;

    AdamW(float beta1, float beta2, float epsilon, float weightDecay) {
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.epsilon = epsilon;
        this.weightDecay = weightDecay;
    }

    /** One update of every array (each with a gradient) with gradients scaled by {@code gradScale}. */
    void stepArrays(Map<String, NDArray> weights, float learningRate, float gradScale) {
        step++;
        float c1 = 1f - (float) Math.pow(beta1, step);
        float c2 = 1f - (float) Math.pow(beta2, step);
        for (Map.Entry<String, NDArray> e : weights.entrySet()) {
            NDArray w = e.getValue();
            NDArray[] mv = state.computeIfAbsent(e.getKey(), k -> new NDArray[] {w.zerosLike(), w.zerosLike()});
            NDManager home = w.getManager();
            try (NDManager scope = home.newSubManager(); NDArray g = w.getGradient()) {
                g.tempAttach(scope);
                mv[0].tempAttach(scope);
                mv[1].tempAttach(scope);
                w.tempAttach(scope);
                NDArray grad = g.mul(gradScale);
                mv[0].muli(beta1).addi(grad.mul(1 - beta1));
                mv[1].muli(beta2).addi(grad.square().mul(1 - beta2));
                NDArray update = mv[0].div(c1).div(mv[1].div(c2).sqrt().add(epsilon));
                if (weightDecay > 0) {
                    update = update.add(w.mul(weightDecay));
                }
                w.subi(update.mul(learningRate));
                g.set(new NDIndex("..."), 0f);
            }
        }
    }
}
