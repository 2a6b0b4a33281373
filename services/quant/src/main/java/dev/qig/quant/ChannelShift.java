package dev.qig.quant;

/**
 * How far a group's channel means moved: ||mu_now - mu_ref||_2 / ||mu_ref||_2. The drift check of
 * the aggregator compares a round's means with its plan's this way, and {@code qig bench --shift}
 * measures how much it varies between rounds of one domain and across domains.
 */
public final class ChannelShift {

    private ChannelShift() {}

    /** The relative L2 shift; a zero reference gives 0 if {@code now} is zero too, else infinity. */
    public static double relative(float[] now, float[] reference) {
        if (now.length != reference.length) {
            throw new IllegalArgumentException("channel counts differ: " + now.length + " vs " + reference.length);
        }
        double diff = 0;
        double norm = 0;
        for (int c = 0; c < reference.length; c++) {
            double d = (double) now[c] - reference[c];
            diff += d * d;
            norm += (double) reference[c] * reference[c];
        }
        if (norm == 0) {
            return diff == 0 ? 0.0 : Double.POSITIVE_INFINITY;
        }
        return Math.sqrt(diff / norm);
    }

    /** The median of the values that are not NaN; NaN when there are none. */
    public static double median(java.util.Collection<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).filter(x -> !Double.isNaN(x)).sorted().toArray();
        if (v.length == 0) {
            return Double.NaN;
        }
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
