package dev.qig.quant;

/**
 * The AWQ scale search grid: alpha in {0, 0.05, ..., 0.95}; for channel means mu,
 * {@code s = max(mu^alpha, 1e-4)}, then {@code s /= sqrt(max(s) * min(s))}. alpha = 0 gives s = 1
 * (plain RTN).
 */
public final class AlphaGrid {

    public static final int SIZE = 20;

    private AlphaGrid() {}

    public static double alpha(int index) {
        return index / (double) SIZE;
    }

    /** Index of an alpha of the grid (e.g. read back from a config). */
    public static int indexOf(double alpha) {
        int i = (int) Math.round(alpha * SIZE);
        if (i < 0 || i >= SIZE || Math.abs(alpha(i) - alpha) > 1e-9) {
            throw new IllegalArgumentException("alpha " + alpha + " is not on the grid");
        }
        return i;
    }

    public static float[] scales(float[] mu, double alpha) {
        float[] s = new float[mu.length];
        double max = Double.NEGATIVE_INFINITY;
        double min = Double.POSITIVE_INFINITY;
        for (int c = 0; c < mu.length; c++) {
            s[c] = (float) Math.max(Math.pow(mu[c], alpha), 1e-4);
            max = Math.max(max, s[c]);
            min = Math.min(min, s[c]);
        }
        float norm = (float) Math.sqrt(max * min);
        for (int c = 0; c < s.length; c++) {
            s[c] /= norm;
        }
        return s;
    }
}
