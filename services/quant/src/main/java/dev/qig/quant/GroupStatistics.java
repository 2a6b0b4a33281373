package dev.qig.quant;

import java.util.Arrays;
import java.util.Objects;

/**
 * The statistics of one (layer, group) that do not depend on a plan, as exact sums over samples:
 * channel sums of |x| with their token count (for the channel means mu) and the sums of mean
 * |dL/dy| over vision and answer tokens at the group's side output (for MBQ's ratio r). A commutative
 * monoid under {@link #plus}: the statistics of two sample sets are the sum of theirs, in any order.
 */
public final class GroupStatistics {

    private final ExactSum[] absSum;
    private final long tokens;
    private final ExactSum gradVisionSum;
    private final long gradVisionCount;
    private final ExactSum gradAnswerSum;
    private final long gradAnswerCount;

    private GroupStatistics(ExactSum[] absSum, long tokens, ExactSum gradVisionSum, long gradVisionCount,
                            ExactSum gradAnswerSum, long gradAnswerCount) {
        this.absSum = absSum;
        this.tokens = tokens;
        this.gradVisionSum = gradVisionSum;
        this.gradVisionCount = gradVisionCount;
        this.gradAnswerSum = gradAnswerSum;
        this.gradAnswerCount = gradAnswerCount;
    }

    /**
     * One sample's statistics from plain values.
     *
     * @throws ArithmeticException if a value is NaN or infinite
     */
    public static GroupStatistics of(double[] absSum, long tokens, double gradVisionSum, long gradVisionCount,
                                     double gradAnswerSum, long gradAnswerCount) {
        ExactSum[] s = new ExactSum[absSum.length];
        for (int c = 0; c < s.length; c++) {
            s[c] = ExactSum.of(absSum[c]);
        }
        return new GroupStatistics(s, tokens, ExactSum.of(gradVisionSum), gradVisionCount,
                ExactSum.of(gradAnswerSum), gradAnswerCount);
    }

    /** Statistics from exact sums (e.g. read back from a store). */
    public static GroupStatistics ofSums(ExactSum[] absSum, long tokens, ExactSum gradVisionSum, long gradVisionCount,
                                         ExactSum gradAnswerSum, long gradAnswerCount) {
        return new GroupStatistics(absSum.clone(), tokens, Objects.requireNonNull(gradVisionSum), gradVisionCount,
                Objects.requireNonNull(gradAnswerSum), gradAnswerCount);
    }

    /** The sum of two statistics of the same group (neither is changed). */
    public GroupStatistics plus(GroupStatistics o) {
        if (o.absSum.length != absSum.length) {
            throw new IllegalArgumentException("statistics of " + absSum.length + " and " + o.absSum.length
                    + " channels cannot be added");
        }
        ExactSum[] s = new ExactSum[absSum.length];
        for (int c = 0; c < s.length; c++) {
            s[c] = absSum[c].plus(o.absSum[c]);
        }
        return new GroupStatistics(s, tokens + o.tokens, gradVisionSum.plus(o.gradVisionSum),
                gradVisionCount + o.gradVisionCount, gradAnswerSum.plus(o.gradAnswerSum),
                gradAnswerCount + o.gradAnswerCount);
    }

    /** mu[c] = mean |x[..., c]| over all tokens summed. */
    public float[] channelMeans() {
        float[] mu = new float[absSum.length];
        for (int c = 0; c < mu.length; c++) {
            mu[c] = tokens == 0 ? 0f : (float) (absSum[c].doubleValue() / tokens);
        }
        return mu;
    }

    /** MBQ's r before the median floor: mean |dL/dy| on vision tokens over that on answer tokens; NaN if undefined. */
    public double gradientRatio() {
        double answer = gradAnswerSum.doubleValue();
        if (gradVisionCount == 0 || gradAnswerCount == 0 || answer == 0) {
            return Double.NaN;
        }
        return (gradVisionSum.doubleValue() / gradVisionCount) / (answer / gradAnswerCount);
    }

    public int channels() {
        return absSum.length;
    }

    public ExactSum[] absSum() {
        return absSum.clone();
    }

    public long tokens() {
        return tokens;
    }

    public ExactSum gradVisionSum() {
        return gradVisionSum;
    }

    public long gradVisionCount() {
        return gradVisionCount;
    }

    public ExactSum gradAnswerSum() {
        return gradAnswerSum;
    }

    public long gradAnswerCount() {
        return gradAnswerCount;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GroupStatistics s && Arrays.equals(absSum, s.absSum) && tokens == s.tokens
                && gradVisionSum.equals(s.gradVisionSum) && gradVisionCount == s.gradVisionCount
                && gradAnswerSum.equals(s.gradAnswerSum) && gradAnswerCount == s.gradAnswerCount;
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(absSum), tokens, gradVisionSum, gradAnswerSum);
    }
}
