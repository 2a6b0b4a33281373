package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.Parameter;
import java.util.function.UnaryOperator;

/**
 * A parameter whose values can be replaced in place by a transformed copy (fake quantization,
 * equalization scales) and later restored bit-exactly. In-place, so every holder of the array sees
 * the change; done outside any gradient collector.
 */
public final class InPlaceWeight {

    private final String name;
    private final Parameter parameter;
    private NDArray original;

    InPlaceWeight(String name, Parameter parameter) {
        this.name = name;
        this.parameter = parameter;
    }

    public String name() {
        return name;
    }

    /** The live array. */
    public NDArray array() {
        return parameter.getArray();
    }

    /**
     * Replaces the values by {@code transform(values)} and keeps the original. Replacing twice is
     * refused: transforms would otherwise compound silently (quantizing a quantized weight).
     */
    public void replace(UnaryOperator<NDArray> transform) {
        if (original != null) {
            throw new IllegalStateException(name + " is already replaced; restore it first");
        }
        NDArray live = parameter.getArray();
        NDArray saved = live.duplicate();
        // The transform's temporaries land in a scope closed right after the copy-back; the live
        // array returns to its own manager.
        try (NDManager scope = live.getManager().newSubManager()) {
            live.tempAttach(scope);
            NDArray replaced = transform.apply(live);
            if (!replaced.getShape().equals(live.getShape())) {
                throw new IllegalArgumentException(
                        name + ": transform changed the shape " + live.getShape() + " -> " + replaced.getShape());
            }
            live.set(new NDIndex("..."), replaced);
        } catch (RuntimeException e) {
            saved.close();
            throw e;
        }
        original = saved;
    }

    /** Puts the original values back, bit for bit; no-op when not replaced. */
    public void restore() {
        if (original == null) {
            return;
        }
        parameter.getArray().set(new NDIndex("..."), original);
        original.close();
        original = null;
    }

    public boolean isReplaced() {
        return original != null;
    }
}
