package dev.qig.core.quant;

import java.util.Arrays;

/**
 * Everything the scale search of one (layer, group) needs from a set of samples, as sums: so the
 * statistics of two sample sets are the {@link #plus} of theirs (a commutative monoid, which is what
 * lets a stream aggregate them). One sample's partials come from
 * {@link PartialSumsEngine}; the search takes the argmin over alpha of the summed errors.
 *
 * <ul>
 *   <li>{@code absSum[c]}, {@code tokens}: channel sums of |x| and the token count (-> mu);
 *   <li>{@code grad*}: sums of mean |dL/dy| over vision / answer tokens at the group's side output
 *       (-> MBQ's ratio r);
 *   <li>{@code eAll[a]}, {@code eAnswer[a]}, {@code eVision[a]}: per-alpha sums of the per-token
 *       error over all / answer / vision tokens, with counts {@code nAll}, {@code nAnswer},
 *       {@code nVision};
 *   <li>{@code eQig[a]}: per-alpha sums of lambda * error, with {@code lambdaSum}.
 * </ul>
 * Error arrays are empty when the partials carry statistics only (no plan to search yet).
 */
public final class GroupPartials {

    private final double[] absSum;
    private long tokens;
    private double gradVisionSum;
    private long gradVisionCount;
    private double gradAnswerSum;
    private long gradAnswerCount;
    private final double[] eAll;
    private final double[] eAnswer;
    private final double[] eVision;
    private final double[] eQig;
    private long nAll;
    private long nAnswer;
    private long nVision;
    private double lambdaSum;
    private long samples;

    public GroupPartials(int channels, boolean withErrors) {
        this.absSum = new double[channels];
        int a = withErrors ? AlphaGrid.SIZE : 0;
        this.eAll = new double[a];
        this.eAnswer = new double[a];
        this.eVision = new double[a];
        this.eQig = new double[a];
    }

    /** Rebuilds partials from their serialized fields (see the getters). */
    public static GroupPartials of(double[] absSum, long tokens, double gradVisionSum, long gradVisionCount,
                                   double gradAnswerSum, long gradAnswerCount, double[] eAll, double[] eAnswer,
                                   double[] eVision, double[] eQig, long nAll, long nAnswer, long nVision,
                                   double lambdaSum, long samples) {
        GroupPartials p = new GroupPartials(absSum.length, eAll.length > 0);
        if (eAll.length != p.eAll.length || eAnswer.length != eAll.length || eVision.length != eAll.length
                || eQig.length != eAll.length) {
            throw new IllegalArgumentException("per-alpha arrays must all have " + AlphaGrid.SIZE + " entries or none");
        }
        System.arraycopy(absSum, 0, p.absSum, 0, absSum.length);
        System.arraycopy(eAll, 0, p.eAll, 0, eAll.length);
        System.arraycopy(eAnswer, 0, p.eAnswer, 0, eAnswer.length);
        System.arraycopy(eVision, 0, p.eVision, 0, eVision.length);
        System.arraycopy(eQig, 0, p.eQig, 0, eQig.length);
        p.tokens = tokens;
        p.gradVisionSum = gradVisionSum;
        p.gradVisionCount = gradVisionCount;
        p.gradAnswerSum = gradAnswerSum;
        p.gradAnswerCount = gradAnswerCount;
        p.nAll = nAll;
        p.nAnswer = nAnswer;
        p.nVision = nVision;
        p.lambdaSum = lambdaSum;
        p.samples = samples;
        return p;
    }

    /** The sum of two partials (neither is changed). */
    public GroupPartials plus(GroupPartials o) {
        if (o.absSum.length != absSum.length || o.eAll.length != eAll.length) {
            throw new IllegalArgumentException("partials of different shapes: " + absSum.length + "/" + eAll.length
                    + " vs " + o.absSum.length + "/" + o.eAll.length);
        }
        GroupPartials r = new GroupPartials(absSum.length, eAll.length > 0);
        for (int c = 0; c < absSum.length; c++) {
            r.absSum[c] = absSum[c] + o.absSum[c];
        }
        for (int a = 0; a < eAll.length; a++) {
            r.eAll[a] = eAll[a] + o.eAll[a];
            r.eAnswer[a] = eAnswer[a] + o.eAnswer[a];
            r.eVision[a] = eVision[a] + o.eVision[a];
            r.eQig[a] = eQig[a] + o.eQig[a];
        }
        r.tokens = tokens + o.tokens;
        r.gradVisionSum = gradVisionSum + o.gradVisionSum;
        r.gradVisionCount = gradVisionCount + o.gradVisionCount;
        r.gradAnswerSum = gradAnswerSum + o.gradAnswerSum;
        r.gradAnswerCount = gradAnswerCount + o.gradAnswerCount;
        r.nAll = nAll + o.nAll;
        r.nAnswer = nAnswer + o.nAnswer;
        r.nVision = nVision + o.nVision;
        r.lambdaSum = lambdaSum + o.lambdaSum;
        r.samples = samples + o.samples;
        return r;
    }

    // --- accumulation by the engine (one sample at a time) ---

    void addChannels(float[] rowAbsSum, long tokenCount) {
        for (int c = 0; c < absSum.length; c++) {
            absSum[c] += rowAbsSum[c];
        }
        tokens += tokenCount;
    }

    void addGradients(double visionSum, long visionCount, double answerSum, long answerCount) {
        gradVisionSum += visionSum;
        gradVisionCount += visionCount;
        gradAnswerSum += answerSum;
        gradAnswerCount += answerCount;
    }

    void addError(int alpha, double all, double answer, double vision, double qig) {
        eAll[alpha] += all;
        eAnswer[alpha] += answer;
        eVision[alpha] += vision;
        eQig[alpha] += qig;
    }

    void addWeights(long all, long answer, long vision, double lambda) {
        nAll += all;
        nAnswer += answer;
        nVision += vision;
        lambdaSum += lambda;
    }

    void addSample() {
        samples++;
    }

    // --- what the search and the plan read ---

    public boolean hasErrors() {
        return eAll.length > 0;
    }

    /** mu[c] = mean |x[..., c]| over all tokens seen. */
    public float[] channelMeans() {
        float[] mu = new float[absSum.length];
        for (int c = 0; c < mu.length; c++) {
            mu[c] = tokens == 0 ? 0f : (float) (absSum[c] / tokens);
        }
        return mu;
    }

    /** MBQ's r before the median floor: mean |dL/dy| on vision tokens over that on answer tokens. */
    public double gradientRatio() {
        if (gradVisionCount == 0 || gradAnswerCount == 0 || gradAnswerSum == 0) {
            return Double.NaN;
        }
        return (gradVisionSum / gradVisionCount) / (gradAnswerSum / gradAnswerCount);
    }

    /** AWQ's loss at alpha index a: mean error over all tokens. */
    public double lossUniform(int a) {
        return eAll[a] / nAll;
    }

    /** MBQ's loss: answer tokens weigh 1, vision tokens r, the rest 0. */
    public double lossModality(int a, double r) {
        return (eAnswer[a] + r * eVision[a]) / (nAnswer + r * nVision);
    }

    /** QIG's loss: sum lambda * e / sum lambda. */
    public double lossQig(int a) {
        return eQig[a] / lambdaSum;
    }

    public double[] absSum() {
        return absSum.clone();
    }

    public long tokens() {
        return tokens;
    }

    public double gradVisionSum() {
        return gradVisionSum;
    }

    public long gradVisionCount() {
        return gradVisionCount;
    }

    public double gradAnswerSum() {
        return gradAnswerSum;
    }

    public long gradAnswerCount() {
        return gradAnswerCount;
    }

    public double[] eAll() {
        return eAll.clone();
    }

    public double[] eAnswer() {
        return eAnswer.clone();
    }

    public double[] eVision() {
        return eVision.clone();
    }

    public double[] eQig() {
        return eQig.clone();
    }

    public long nAll() {
        return nAll;
    }

    public long nAnswer() {
        return nAnswer;
    }

    public long nVision() {
        return nVision;
    }

    public double lambdaSum() {
        return lambdaSum;
    }

    public long samples() {
        return samples;
    }

    public int channels() {
        return absSum.length;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof GroupPartials)) {
            return false;
        }
        GroupPartials p = (GroupPartials) o;
        return Arrays.equals(absSum, p.absSum) && tokens == p.tokens && gradVisionSum == p.gradVisionSum
                && gradVisionCount == p.gradVisionCount && gradAnswerSum == p.gradAnswerSum
                && gradAnswerCount == p.gradAnswerCount && Arrays.equals(eAll, p.eAll)
                && Arrays.equals(eAnswer, p.eAnswer) && Arrays.equals(eVision, p.eVision)
                && Arrays.equals(eQig, p.eQig) && nAll == p.nAll && nAnswer == p.nAnswer && nVision == p.nVision
                && lambdaSum == p.lambdaSum && samples == p.samples;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(absSum) * 31 + Long.hashCode(samples);
    }
}
