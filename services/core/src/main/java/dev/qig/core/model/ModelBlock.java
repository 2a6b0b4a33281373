package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.util.Pair;

/**
 * Base of every block of the model. Parameters are shaped at construction from the config, so
 * initialization needs no input shapes, and every parameter is reachable by its Hugging Face name
 * (the block's prefix + the parameter's name) for checkpoint import and export.
 */
public abstract class ModelBlock extends AbstractBlock {

    /** Initial values of a parameter. */
    protected enum Init { NORMAL, ONES, ZEROS }

    /** Standard deviation of normal initial weights (as in Hugging Face's initializer_range). */
    protected static final double INIT_STD = 0.02;

    protected final String prefix;
    protected final WeightRegistry registry;

    protected ModelBlock(WeightRegistry registry, String prefix) {
        super((byte) 1);
        this.registry = registry;
        this.prefix = prefix;
    }

    /** A float parameter named {@code prefix + "." + name}, registered under that name. */
    protected final Parameter param(String name, Init init, long... shape) {
        String fullName = prefix.isEmpty() ? name : prefix + "." + name;
        Initializer initializer;
        switch (registry.startsAtZero() ? Init.ZEROS : init) {
            case ONES:
                initializer = SeededInitializer.ones();
                break;
            case ZEROS:
                initializer = SeededInitializer.zeros();
                break;
            default:
                initializer = SeededInitializer.normal(registry.seedFor(fullName), INIT_STD);
        }
        Parameter p =
                addParameter(
                        Parameter.builder()
                                .setName(name)
                                .setType(Parameter.Type.WEIGHT)
                                .optShape(new Shape(shape))
                                .optInitializer(initializer)
                                .build());
        registry.register(fullName, p);
        return p;
    }

    /** The name a child block's parameters are registered under. */
    protected final String child(String name) {
        return prefix.isEmpty() ? name : prefix + "." + name;
    }

    /** The live array of a parameter (gradients flow to it when it requires them). */
    protected static NDArray value(ParameterStore ps, Parameter p, NDArray like, boolean training) {
        return ps.getValue(p, like.getDevice(), training);
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        for (Pair<String, Block> child : getChildren()) {
            child.getValue().initialize(manager, dataType, inputShapes);
        }
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        // Shapes depend on runtime sequence lengths; callers of this model never need static inference.
        throw new UnsupportedOperationException(getClass().getSimpleName() + " has no static output shape");
    }

    /** Convenience for single-tensor blocks. */
    public final NDArray forward1(ParameterStore ps, NDArray x, boolean training) {
        return forward(ps, new NDList(x), training).singletonOrThrow();
    }
}
