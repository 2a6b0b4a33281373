package dev.qig.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qig.core.model.GradientRecording;
import java.util.function.Function;

/**
 * Integrated gradients of a scalar-per-row target along the straight path from a baseline b to an
 * input x: points {@code z_k = b + a_k (x - b)}, {@code a_k = k / (steps - 1)}, k = 0..steps-1 (both
 * ends included, each weighted 1/steps); {@code G = mean_k dF/dz(z_k)} accumulated in fp32;
 * {@code IG = (x - b) * G}.
 *
 * <p>The interpolation points of all rows go through the target as one batch (in chunks of
 * {@code chunkSteps} points), since rows are independent: row i of a chunk only influences row i's
 * target. The target must therefore return the sum over rows of per-row values. Opens a gradient
 * collector: only one may be open per JVM, so calls must not overlap.
 */
public final class IntegratedGradients {

    private IntegratedGradients() {}

    /**
     * @param target maps a batch of points (n*B, ...) to a scalar: the sum of the per-row targets
     * @param x input (B, ...), no gradient
     * @param baseline same shape as x
     */
    public static NDArray integrate(Function<NDArray, NDArray> target, NDArray x, NDArray baseline, int steps,
                                    int chunkSteps) {
        if (!x.getShape().equals(baseline.getShape())) {
            throw new IllegalArgumentException("baseline shape " + baseline.getShape() + " != input " + x.getShape());
        }
        NDArray xf = x.toType(DataType.FLOAT32, false);
        NDArray bf = baseline.toType(DataType.FLOAT32, false);
        NDArray delta = xf.sub(bf);
        long rows = x.getShape().get(0);
        NDArray gradSum = x.getManager().zeros(x.getShape(), DataType.FLOAT32);
        for (int from = 0; from < steps; from += chunkSteps) {
            int n = Math.min(chunkSteps, steps - from);
            NDList points = new NDList(n);
            for (int k = from; k < from + n; k++) {
                float a = k / (float) (steps - 1);
                points.add(bf.add(delta.mul(a)));
            }
            NDArray z = NDArrays.concat(points, 0);
            z.setRequiresGradient(true);
            try (GradientRecording gc = GradientRecording.open()) {
                gc.backward(target.apply(z));
            }
            NDArray grad = z.getGradient();
            Shape perStep = new Shape(n, rows).addAll(x.getShape().slice(1));
            gradSum.addi(grad.reshape(perStep).sum(new int[] {0}));
            grad.close();
            z.close();
        }
        return delta.mul(gradSum.div(steps));
    }
}
