package dev.qig.quant;

import dev.qig.util.EnumIds;
import java.util.Locale;

/**
 * The quadrature of integrated gradients: where the n points on the path from the baseline to the
 * input lie, each weighted 1/n. The method's rule has both ends; the midpoint rule, the centres of
 * n equal intervals, is a second-order rule for the same cost (README, "Integrated gradients").
 */
public enum IgRule {
    /** {@code a_k = k / (n - 1)}, k = 0..n-1: both ends included (the method, qig-method.md section 3). */
    ENDPOINTS,
    /** {@code a_k = (k + 1/2) / n}: the midpoint rule. */
    MIDPOINT;

    /** Position of point k of n on the path, in [0, 1]. */
    public float alpha(int k, int n) {
        return this == ENDPOINTS ? k / (float) (n - 1) : (k + 0.5f) / n;
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static IgRule parse(String s) {
        return EnumIds.parse(IgRule.class, "integration rule", s);
    }
}
