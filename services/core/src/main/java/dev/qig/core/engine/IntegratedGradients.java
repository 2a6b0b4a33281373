package dev.qig.core.engine;

import dev.qig.quant.IgRule;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qig.core.model.GradientRecording;
import dev.qig.core.model.NDScope;
import java.util.function.Function;

/**
 * Integrated gradients of a scalar-per-row target along the straight path from a baseline b to an
 * input x: points {@code z_k = b + a_k (x - b)} placed by an {@link IgRule} (the method's rule:
 * {@code a_k = k / (steps - 1)}, both ends included), each weighted 1/steps; {@code G = mean_k dF/dz(z_k)}
 * accumulated in fp32; {@code IG = (x - b) * G}.
 *
 * <p>The interpolation points of all rows go through the target as one batch (in chunks of
 * {@code chunkSteps} points), since rows are independent: row i of a chunk only influences row i's
 * target. The target must therefore return the sum over rows of per-row values. Gradient passes go
 * through {@link GradientRecording}, the JVM's one gradient recorder.
 */
public final class IntegratedGradients {

    private IntegratedGradients() {}

    /** With the method's rule: both ends included. */
    public static NDArray integrate(Function<NDArray, NDArray> target, NDArray x, NDArray baseline, int steps,
                                    int chunkSteps) {
        return integrate(target, x, baseline, steps, chunkSteps, IgRule.ENDPOINTS);
    }

    /**
     * @param target maps a batch of points (n*B, ...) to a scalar: the sum of the per-row targets
     * @param x input (B, ...), no gradient
     * @param baseline same shape as x
     */
    public static NDArray integrate(Function<NDArray, NDArray> target, NDArray x, NDArray baseline, int steps,
                                    int chunkSteps, IgRule rule) {
        if (!x.getShape().equals(baseline.getShape())) {
            throw new IllegalArgumentException("baseline shape " + baseline.getShape() + " != input " + x.getShape());
        }
        NDArray xf = x.toType(DataType.FLOAT32, false);
        NDArray bf = baseline.toType(DataType.FLOAT32, false);
        NDArray delta = xf.sub(bf);
        long rows = x.getShape().get(0);
        NDArray gradSum = x.getManager().zeros(x.getShape(), DataType.FLOAT32);
        for (int from = 0; from < steps; from += chunkSteps) {
            int first = from;
            int n = Math.min(chunkSteps, steps - from);
            // A chunk's points, activations and gradients live in a scope of their own: with many points
            // they would otherwise pile up on the caller's manager until its batch ends.
            NDArray chunkSum = NDScope.apply(delta, d -> {
                NDList points = new NDList(n);
                for (int k = first; k < first + n; k++) {
                    points.add(d.mul(rule.alpha(k, steps)).add(bf));
                }
                NDArray z = NDArrays.concat(points, 0);
                z.setRequiresGradient(true);
                try (GradientRecording gc = GradientRecording.open()) {
                    gc.backward(target.apply(z));
                }
                Shape perStep = new Shape(n, rows).addAll(x.getShape().slice(1));
                return z.getGradient().reshape(perStep).sum(new int[] {0});
            });
            gradSum.addi(chunkSum);
            chunkSum.close();
        }
        return delta.mul(gradSum.div(steps));
    }

    /**
     * Integrated gradients from a zero baseline of a target that is positively homogeneous of degree
     * one along the path, such as {@code sum |z W^T - z Wq^T|} for a single linear: its gradient is
     * the same at every point {@code a x} with a > 0, so one gradient at x, weighted by the share of
     * the rule's points with a > 0, is the exact value of the rule (one backward pass instead of
     * {@code steps}). At a = 0 the gradient of |.| is 0 (PyTorch's sign(0)).
     */
    public static NDArray integrateHomogeneousFromZero(Function<NDArray, NDArray> target, NDArray x, int steps,
                                                       IgRule rule) {
        int positive = 0;
        for (int k = 0; k < steps; k++) {
            positive += rule.alpha(k, steps) > 0 ? 1 : 0;
        }
        NDArray z = x.toType(DataType.FLOAT32, true);
        z.setRequiresGradient(true);
        try (GradientRecording gc = GradientRecording.open()) {
            gc.backward(target.apply(z));
        }
        NDArray grad = z.getGradient();
        NDArray ig = z.stopGradient().mul(grad.mul(x.getManager().create((float) positive / steps)));
        grad.close();
        z.close();
        return ig;
    }
}
