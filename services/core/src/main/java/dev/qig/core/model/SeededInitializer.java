package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.initializer.Initializer;
import java.util.SplittableRandom;

/**
 * Initial values drawn in Java from a seed of their own, so a model's initial weights depend only on
 * (seed, parameter) and not on how many random numbers the engine drew before. The training heads
 * draw theirs the same way ({@link #normal(NDManager, long, Shape, double)}): the engine's random
 * generator is global to the JVM, so anything drawn from it depends on what ran before.
 */
public final class SeededInitializer implements Initializer {

    enum Kind { NORMAL, ONES, ZEROS }

    private final Kind kind;
    private final long seed;
    private final double std;

    private SeededInitializer(Kind kind, long seed, double std) {
        this.kind = kind;
        this.seed = seed;
        this.std = std;
    }

    static SeededInitializer normal(long seed, double std) {
        return new SeededInitializer(Kind.NORMAL, seed, std);
    }

    /** A float32 array of normal values with mean 0 and the given deviation, from the seed alone. */
    public static NDArray normal(NDManager manager, long seed, Shape shape, double std) {
        return normal(seed, std).initialize(manager, shape, DataType.FLOAT32);
    }

    static SeededInitializer ones() {
        return new SeededInitializer(Kind.ONES, 0, 0);
    }

    static SeededInitializer zeros() {
        return new SeededInitializer(Kind.ZEROS, 0, 0);
    }

    @Override
    public NDArray initialize(NDManager manager, Shape shape, DataType dataType) {
        switch (kind) {
            case ONES:
                return manager.ones(shape, dataType);
            case ZEROS:
                return manager.zeros(shape, dataType);
            default:
                SplittableRandom rng = new SplittableRandom(seed);
                float[] v = new float[Math.toIntExact(shape.size())];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) (gaussian(rng) * std);
                }
                return manager.create(v, shape).toType(dataType, false);
        }
    }

    // Box-Muller: SplittableRandom has no nextGaussian on Java 17's RandomGenerator default that is
    // guaranteed stable across releases, so draw it explicitly.
    private static double gaussian(SplittableRandom rng) {
        double u1 = 1.0 - rng.nextDouble();
        double u2 = rng.nextDouble();
        return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2.0 * Math.PI * u2);
    }
}
