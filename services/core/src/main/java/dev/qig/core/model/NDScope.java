package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.function.UnaryOperator;

/**
 * Runs a tensor function so that its temporaries are closed right away: DJL attaches every result
 * to the first operand's manager, so a function of a long-lived array (a weight) would otherwise
 * leave its intermediates on the model's manager until the model is closed.
 */
public final class NDScope {

    private NDScope() {}

    /** {@code f(input)}, attached to the input's manager; everything else {@code f} made is closed. */
    public static NDArray apply(NDArray input, UnaryOperator<NDArray> f) {
        NDManager parent = input.getManager();
        try (NDManager scope = parent.newSubManager()) {
            input.tempAttach(scope);
            NDArray result = f.apply(input);
            result.attach(parent);
            return result;
        }
    }
}
