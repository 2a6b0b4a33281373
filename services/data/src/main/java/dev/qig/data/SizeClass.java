package dev.qig.data;

import java.util.Locale;

/**
 * Object size classes with their pixel extent range (inclusive). The gap between 6 and 9 pixels keeps the
 * classes separable, and 10 pixels still leaves a 1-pixel margin on each side inside a 12-pixel cell.
 */
public enum SizeClass {
    SMALL(5, 6),
    LARGE(9, 10);

    private final int minExtent;
    private final int maxExtent;

    SizeClass(int minExtent, int maxExtent) {
        this.minExtent = minExtent;
        this.maxExtent = maxExtent;
    }

    public String word() {
        return name().toLowerCase(Locale.ROOT);
    }

    public int minExtent() {
        return minExtent;
    }

    public int maxExtent() {
        return maxExtent;
    }
}
