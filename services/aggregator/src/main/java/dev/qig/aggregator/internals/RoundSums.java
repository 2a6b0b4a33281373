package dev.qig.aggregator.internals;

import dev.qig.core.quant.CalibrationSums;
import dev.qig.core.quant.GroupErrors;
import dev.qig.core.quant.GroupKey;
import dev.qig.core.quant.GroupStatistics;
import dev.qig.core.quant.InputRange;
import java.util.Map;
import java.util.TreeMap;

/**
 * The running sums of one open round, mutable: a sample is added in place ({@link #add}), where
 * {@link CalibrationSums#plus} copies every sum of the round. {@link #toSums} gives what adding the
 * same samples with {@code plus} gives, bit for bit (the sums are exact, the ranges a max). Tagged
 * with the round, plan and sample count it holds, which the store checks against the round's state.
 */
final class RoundSums {

    final long round;
    final long planVersion;
    private long samples;
    private final Map<GroupKey, Statistics> statistics = new TreeMap<>();
    private final Map<GroupKey, Errors> errors = new TreeMap<>();
    private final Map<GroupKey, float[]> ranges = new TreeMap<>();
    private final Map<GroupKey, Statistics> vision = new TreeMap<>();

    RoundSums(long round, long planVersion) {
        this.round = round;
        this.planVersion = planVersion;
    }

    /** A round's sums as read back from the store. */
    static RoundSums of(long round, long planVersion, CalibrationSums sums) {
        RoundSums out = new RoundSums(round, planVersion);
        out.add(sums);
        return out;
    }

    long samples() {
        return samples;
    }

    /** Adds sums (a sample's), as {@link CalibrationSums#plus} would: a group new to the round starts at the sample's. */
    void add(CalibrationSums s) {
        s.statistics().forEach((k, g) -> add(statistics, k, g));
        s.vision().forEach((k, g) -> add(vision, k, g));
        s.errors().forEach((k, e) -> {
            Errors acc = errors.get(k);
            if (acc == null) {
                errors.put(k, new Errors(e));
            } else {
                acc.add(e);
            }
        });
        s.ranges().forEach((k, r) -> {
            float[] acc = ranges.get(k);
            float[] m = r.channelAbsMax();
            if (acc == null) {
                ranges.put(k, m);
            } else {
                if (acc.length != m.length) {
                    throw new IllegalArgumentException("ranges of " + acc.length + " and " + m.length
                            + " channels cannot be merged");
                }
                for (int c = 0; c < m.length; c++) {
                    acc[c] = Math.max(acc[c], m[c]); // InputRange.plus's order
                }
            }
        });
        samples += s.samples();
    }

    private static void add(Map<GroupKey, Statistics> into, GroupKey k, GroupStatistics g) {
        Statistics acc = into.get(k);
        if (acc == null) {
            into.put(k, new Statistics(g));
        } else {
            acc.add(g);
        }
    }

    /** Per group the channel count of the round's statistics. */
    Map<GroupKey, Integer> statisticsChannels() {
        Map<GroupKey, Integer> out = new TreeMap<>();
        statistics.forEach((k, s) -> out.put(k, s.absSum.length));
        return out;
    }

    /** Per input site the channel count of the round's ranges. */
    Map<GroupKey, Integer> rangeChannels() {
        Map<GroupKey, Integer> out = new TreeMap<>();
        ranges.forEach((k, r) -> out.put(k, r.length));
        return out;
    }

    /** The round's sums as the engine takes them. */
    CalibrationSums toSums() {
        Map<GroupKey, GroupStatistics> s = new TreeMap<>();
        statistics.forEach((k, g) -> s.put(k, g.value()));
        Map<GroupKey, GroupStatistics> v = new TreeMap<>();
        vision.forEach((k, g) -> v.put(k, g.value()));
        Map<GroupKey, GroupErrors> e = new TreeMap<>();
        errors.forEach((k, g) -> e.put(k, g.value()));
        Map<GroupKey, InputRange> r = new TreeMap<>();
        ranges.forEach((k, m) -> r.put(k, InputRange.of(m)));
        return new CalibrationSums(s, e, r, v, samples);
    }

    private static final class Statistics {
        final ExactAccumulator[] absSum;
        long tokens;
        final ExactAccumulator gradVisionSum;
        long gradVisionCount;
        final ExactAccumulator gradAnswerSum;
        long gradAnswerCount;

        Statistics(GroupStatistics g) {
            absSum = ExactAccumulator.of(g.absSum());
            tokens = g.tokens();
            gradVisionSum = new ExactAccumulator(g.gradVisionSum());
            gradVisionCount = g.gradVisionCount();
            gradAnswerSum = new ExactAccumulator(g.gradAnswerSum());
            gradAnswerCount = g.gradAnswerCount();
        }

        void add(GroupStatistics g) {
            if (g.channels() != absSum.length) { // checked before anything is added (checkedSums); GroupStatistics.plus's check
                throw new IllegalArgumentException("statistics of " + absSum.length + " and " + g.channels()
                        + " channels cannot be added");
            }
            ExactAccumulator.add(absSum, g.absSum());
            tokens += g.tokens();
            gradVisionSum.add(g.gradVisionSum());
            gradVisionCount += g.gradVisionCount();
            gradAnswerSum.add(g.gradAnswerSum());
            gradAnswerCount += g.gradAnswerCount();
        }

        GroupStatistics value() {
            return GroupStatistics.ofSums(ExactAccumulator.values(absSum), tokens, gradVisionSum.toExactSum(),
                    gradVisionCount, gradAnswerSum.toExactSum(), gradAnswerCount);
        }
    }

    private static final class Errors {
        final ExactAccumulator[] eAll;
        final ExactAccumulator[] eAnswer;
        final ExactAccumulator[] eVision;
        final ExactAccumulator[] eQig;
        long nAll;
        long nAnswer;
        long nVision;
        final ExactAccumulator lambdaSum;

        Errors(GroupErrors e) {
            eAll = ExactAccumulator.of(e.eAll());
            eAnswer = ExactAccumulator.of(e.eAnswer());
            eVision = ExactAccumulator.of(e.eVision());
            eQig = ExactAccumulator.of(e.eQig());
            nAll = e.nAll();
            nAnswer = e.nAnswer();
            nVision = e.nVision();
            lambdaSum = new ExactAccumulator(e.lambdaSum());
        }

        void add(GroupErrors e) {
            ExactAccumulator.add(eAll, e.eAll());
            ExactAccumulator.add(eAnswer, e.eAnswer());
            ExactAccumulator.add(eVision, e.eVision());
            ExactAccumulator.add(eQig, e.eQig());
            nAll += e.nAll();
            nAnswer += e.nAnswer();
            nVision += e.nVision();
            lambdaSum.add(e.lambdaSum());
        }

        GroupErrors value() {
            return GroupErrors.ofSums(ExactAccumulator.values(eAll), ExactAccumulator.values(eAnswer),
                    ExactAccumulator.values(eVision), ExactAccumulator.values(eQig), nAll, nAnswer, nVision,
                    lambdaSum.toExactSum());
        }
    }
}
