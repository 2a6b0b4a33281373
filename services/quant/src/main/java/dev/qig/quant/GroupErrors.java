package dev.qig.quant;

import java.util.Arrays;
import java.util.Objects;

/**
 * The per-alpha error sums of one (layer, group) under a plan, as exact sums over samples: for
 * every alpha of the grid the per-token output error of the candidate summed over all, answer and
 * vision tokens and weighted by QIG's lambda, with the matching counts and the sum of lambda. What
 * every method's scale search reads; a commutative monoid under {@link #plus}.
 */
public final class GroupErrors {

    private final ExactSum[] eAll;
    private final ExactSum[] eAnswer;
    private final ExactSum[] eVision;
    private final ExactSum[] eQig;
    private final long nAll;
    private final long nAnswer;
    private final long nVision;
    private final ExactSum lambdaSum;

    private GroupErrors(ExactSum[] eAll, ExactSum[] eAnswer, ExactSum[] eVision, ExactSum[] eQig, long nAll,
                        long nAnswer, long nVision, ExactSum lambdaSum) {
        for (ExactSum[] a : new ExactSum[][] {eAll, eAnswer, eVision, eQig}) {
            if (a.length != AlphaGrid.SIZE) {
                throw new IllegalArgumentException("per-alpha sums need " + AlphaGrid.SIZE + " entries, got " + a.length);
            }
        }
        this.eAll = eAll;
        this.eAnswer = eAnswer;
        this.eVision = eVision;
        this.eQig = eQig;
        this.nAll = nAll;
        this.nAnswer = nAnswer;
        this.nVision = nVision;
        this.lambdaSum = Objects.requireNonNull(lambdaSum);
    }

    /**
     * One sample's error sums from plain values.
     *
     * @throws ArithmeticException if a value is NaN or infinite
     */
    public static GroupErrors of(double[] eAll, double[] eAnswer, double[] eVision, double[] eQig, long nAll,
                                 long nAnswer, long nVision, double lambdaSum) {
        return new GroupErrors(exact(eAll), exact(eAnswer), exact(eVision), exact(eQig), nAll, nAnswer, nVision,
                ExactSum.of(lambdaSum));
    }

    /** Error sums from exact sums (e.g. read back from a store). */
    public static GroupErrors ofSums(ExactSum[] eAll, ExactSum[] eAnswer, ExactSum[] eVision, ExactSum[] eQig,
                                     long nAll, long nAnswer, long nVision, ExactSum lambdaSum) {
        return new GroupErrors(eAll.clone(), eAnswer.clone(), eVision.clone(), eQig.clone(), nAll, nAnswer, nVision,
                lambdaSum);
    }

    public GroupErrors plus(GroupErrors o) {
        return new GroupErrors(add(eAll, o.eAll), add(eAnswer, o.eAnswer), add(eVision, o.eVision), add(eQig, o.eQig),
                nAll + o.nAll, nAnswer + o.nAnswer, nVision + o.nVision, lambdaSum.plus(o.lambdaSum));
    }

    /** AWQ's loss at alpha index a: mean error over all tokens. */
    public double lossUniform(int a) {
        return eAll[a].doubleValue() / nAll;
    }

    /** MBQ's loss: answer tokens weigh 1, vision tokens r, the rest 0. */
    public double lossModality(int a, double r) {
        return (eAnswer[a].doubleValue() + r * eVision[a].doubleValue()) / (nAnswer + r * nVision);
    }

    /** QIG's loss: sum lambda * e / sum lambda. */
    public double lossQig(int a) {
        return eQig[a].doubleValue() / lambdaSum.doubleValue();
    }

    public ExactSum[] eAll() {
        return eAll.clone();
    }

    public ExactSum[] eAnswer() {
        return eAnswer.clone();
    }

    public ExactSum[] eVision() {
        return eVision.clone();
    }

    public ExactSum[] eQig() {
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

    public ExactSum lambdaSum() {
        return lambdaSum;
    }

    private static ExactSum[] exact(double[] v) {
        ExactSum[] s = new ExactSum[v.length];
        for (int i = 0; i < v.length; i++) {
            s[i] = ExactSum.of(v[i]);
        }
        return s;
    }

    private static ExactSum[] add(ExactSum[] a, ExactSum[] b) {
        ExactSum[] s = new ExactSum[a.length];
        for (int i = 0; i < a.length; i++) {
            s[i] = a[i].plus(b[i]);
        }
        return s;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GroupErrors e && Arrays.equals(eAll, e.eAll) && Arrays.equals(eAnswer, e.eAnswer)
                && Arrays.equals(eVision, e.eVision) && Arrays.equals(eQig, e.eQig) && nAll == e.nAll
                && nAnswer == e.nAnswer && nVision == e.nVision && lambdaSum.equals(e.lambdaSum);
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(eAll), Arrays.hashCode(eQig), nAll, lambdaSum);
    }
}
