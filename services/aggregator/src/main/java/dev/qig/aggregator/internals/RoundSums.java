package dev.qig.aggregator.internals;

import dev.qig.quant.CalibrationSums;
import dev.qig.quant.GroupErrors;
import dev.qig.quant.GroupKey;
import dev.qig.quant.GroupStatistics;
import dev.qig.quant.InputRange;
import dev.qig.kafka.records.Records;
import dev.qig.schemas.LayerStats;
import java.util.List;
import java.util.Map;
import java.util.Set;
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

    /**
     * Adds a sample's record straight from its doubles, when it fits the round as the round's
     * samples so far did: the same kind, exactly the round's groups with their channel counts (no
     * group twice), the round's input sites, vision statistics that fit the sample's own, every value
     * finite. Returns false and changes nothing otherwise; the caller then takes the checked path
     * (Records.sums and RoundProcessor's checks), which accepts or refuses the record with its reason.
     * Everything accepted here, that path would accept with the same sums (each double is exact);
     * the fast path skips an ExactSum per value (a fifth of the time per record, issue 20).
     */
    boolean addIfFits(LayerStats r, boolean search, boolean staticRanges) {
        if (samples == 0 || search == errors.isEmpty() || staticRanges == ranges.isEmpty()
                || r.getStatistics().size() != statistics.size() || r.getErrors().size() != errors.size()
                || r.getRanges().size() != ranges.size()) {
            return false;
        }
        // First every check, then every addition: a record that does not fit leaves the round as it was.
        Map<GroupKey, dev.qig.schemas.GroupStatistics> ownStatistics = new java.util.HashMap<>();
        Statistics[] stats = new Statistics[r.getStatistics().size()];
        for (int i = 0; i < stats.length; i++) {
            dev.qig.schemas.GroupStatistics g = r.getStatistics().get(i);
            GroupKey k = key(g.getLayer(), g.getGroup());
            stats[i] = k == null ? null : statistics.get(k);
            if (stats[i] == null || ownStatistics.put(k, g) != null || !fits(stats[i], g)) {
                return false;
            }
        }
        Set<GroupKey> seen = new java.util.HashSet<>();
        Errors[] errs = new Errors[r.getErrors().size()];
        for (int i = 0; i < errs.length; i++) {
            dev.qig.schemas.GroupErrors e = r.getErrors().get(i);
            GroupKey k = key(e.getLayer(), e.getGroup());
            errs[i] = k == null ? null : errors.get(k);
            if (errs[i] == null || !seen.add(k) || !fits(errs[i], e)) {
                return false;
            }
        }
        seen.clear();
        float[][] rng = new float[r.getRanges().size()][];
        for (int i = 0; i < rng.length; i++) {
            dev.qig.schemas.InputRange g = r.getRanges().get(i);
            GroupKey k = key(g.getLayer(), g.getGroup());
            rng[i] = k == null ? null : ranges.get(k);
            if (rng[i] == null || !seen.add(k) || rng[i].length != g.getChannelAbsMax().size()) {
                return false;
            }
            for (Float v : g.getChannelAbsMax()) {
                if (!(v >= 0) || Float.isInfinite(v)) {
                    return false;
                }
            }
        }
        seen.clear();
        GroupKey[] visionKeys = new GroupKey[r.getVision().size()];
        for (int i = 0; i < visionKeys.length; i++) {
            dev.qig.schemas.GroupStatistics g = r.getVision().get(i);
            GroupKey k = key(g.getLayer(), g.getGroup());
            dev.qig.schemas.GroupStatistics all = k == null ? null : ownStatistics.get(k);
            Statistics acc = k == null ? null : vision.get(k);
            if (all == null || !seen.add(k) || g.getAbsSum().size() != all.getAbsSum().size()
                    || g.getTokens() > all.getTokens() || (acc != null && acc.absSum.length != g.getAbsSum().size())
                    || !finite(g)) {
                return false;
            }
            visionKeys[i] = k;
        }
        for (int i = 0; i < stats.length; i++) {
            stats[i].add(r.getStatistics().get(i));
        }
        for (int i = 0; i < errs.length; i++) {
            errs[i].add(r.getErrors().get(i));
        }
        for (int i = 0; i < rng.length; i++) {
            List<Float> m = r.getRanges().get(i).getChannelAbsMax();
            for (int c = 0; c < rng[i].length; c++) {
                rng[i][c] = Math.max(rng[i][c], m.get(c)); // InputRange.plus's order
            }
        }
        for (int i = 0; i < visionKeys.length; i++) {
            dev.qig.schemas.GroupStatistics g = r.getVision().get(i);
            Statistics acc = vision.get(visionKeys[i]);
            if (acc == null) {
                vision.put(visionKeys[i], new Statistics(g));
            } else {
                acc.add(g);
            }
        }
        samples++;
        return true;
    }

    /** The group of a record, or null when the record names none (the checked path says why). */
    private static GroupKey key(int layer, String group) {
        try {
            return Records.groupKey(layer, group);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static boolean fits(Statistics acc, dev.qig.schemas.GroupStatistics g) {
        return acc.absSum.length == g.getAbsSum().size() && finite(g);
    }

    private static boolean finite(dev.qig.schemas.GroupStatistics g) {
        return finite(g.getAbsSum()) && Double.isFinite(g.getGradVisionSum()) && Double.isFinite(g.getGradAnswerSum());
    }

    private static boolean fits(Errors acc, dev.qig.schemas.GroupErrors e) {
        int n = acc.eAll.length;
        return e.getEAll().size() == n && e.getEAnswer().size() == n && e.getEVision().size() == n && e.getEQig().size() == n
                && finite(e.getEAll()) && finite(e.getEAnswer()) && finite(e.getEVision()) && finite(e.getEQig())
                && Double.isFinite(e.getLambdaSum());
    }

    private static boolean finite(List<Double> values) {
        for (int i = 0, n = values.size(); i < n; i++) {
            if (!Double.isFinite(values.get(i))) {
                return false;
            }
        }
        return true;
    }

    private static void addAll(ExactAccumulator[] into, List<Double> values) {
        for (int i = 0; i < into.length; i++) {
            into[i].add(values.get(i).doubleValue());
        }
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

        Statistics(dev.qig.schemas.GroupStatistics g) {
            absSum = new ExactAccumulator[g.getAbsSum().size()];
            for (int c = 0; c < absSum.length; c++) {
                absSum[c] = new ExactAccumulator();
            }
            gradVisionSum = new ExactAccumulator();
            gradAnswerSum = new ExactAccumulator();
            add(g);
        }

        void add(dev.qig.schemas.GroupStatistics g) {
            addAll(absSum, g.getAbsSum());
            tokens += g.getTokens();
            gradVisionSum.add(g.getGradVisionSum());
            gradVisionCount += g.getGradVisionCount();
            gradAnswerSum.add(g.getGradAnswerSum());
            gradAnswerCount += g.getGradAnswerCount();
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

        void add(dev.qig.schemas.GroupErrors e) {
            addAll(eAll, e.getEAll());
            addAll(eAnswer, e.getEAnswer());
            addAll(eVision, e.getEVision());
            addAll(eQig, e.getEQig());
            nAll += e.getNAll();
            nAnswer += e.getNAnswer();
            nVision += e.getNVision();
            lambdaSum.add(e.getLambdaSum());
        }

        GroupErrors value() {
            return GroupErrors.ofSums(ExactAccumulator.values(eAll), ExactAccumulator.values(eAnswer),
                    ExactAccumulator.values(eVision), ExactAccumulator.values(eQig), nAll, nAnswer, nVision,
                    lambdaSum.toExactSum());
        }
    }
}
