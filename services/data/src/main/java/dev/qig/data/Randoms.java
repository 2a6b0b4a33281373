package dev.qig.data;

import java.util.List;
import java.util.random.RandomGenerator;

/** Small helpers over {@link RandomGenerator}; {@code Collections.shuffle} only accepts {@code Random} in Java 17. */
final class Randoms {

    private Randoms() {}

    static <T> T pick(List<T> items, RandomGenerator rng) {
        return items.get(rng.nextInt(items.size()));
    }

    static <T> T pick(T[] items, RandomGenerator rng) {
        return items[rng.nextInt(items.length)];
    }

    /** Uniform in {@code [min, max]}. */
    static int between(int min, int max, RandomGenerator rng) {
        return min + rng.nextInt(max - min + 1);
    }

    /** Fisher-Yates, in place. */
    static <T> void shuffle(List<T> items, RandomGenerator rng) {
        for (int i = items.size() - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            items.set(j, items.set(i, items.get(j)));
        }
    }
}
