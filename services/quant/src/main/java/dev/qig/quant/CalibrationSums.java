package dev.qig.quant;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Everything the scale search needs from a set of samples, as sums (see {@link GroupStatistics}
 * and {@link GroupErrors}): the statistics of every group and, when the samples were computed under
 * a plan, the error sums of every group the plan searches. A sample computed under the empty plan
 * carries statistics only; that is a kind of its own, not an error at merge time: the two maps are
 * added separately. {@link #plus} is exact, commutative and associative, which is what lets a stream
 * of samples in any order give the batch result. For static schemes the sums also carry the input
 * range of every input site ({@link InputRange}, keyed by the group whose input it is; the O key
 * names o's input even where the model has no O group), merged by their max. For the drift check
 * they carry the statistics of the vision tokens alone at the sites it watches ({@link #vision}).
 */
public final class CalibrationSums {

    public static final CalibrationSums EMPTY = new CalibrationSums(Map.of(), Map.of(), Map.of(), 0);

    private final Map<GroupKey, GroupStatistics> statistics;
    private final Map<GroupKey, GroupErrors> errors;
    private final Map<GroupKey, InputRange> ranges;
    private final Map<GroupKey, GroupStatistics> vision;
    private final long samples;

    public CalibrationSums(Map<GroupKey, GroupStatistics> statistics, Map<GroupKey, GroupErrors> errors, long samples) {
        this(statistics, errors, Map.of(), samples);
    }

    public CalibrationSums(Map<GroupKey, GroupStatistics> statistics, Map<GroupKey, GroupErrors> errors,
                           Map<GroupKey, InputRange> ranges, long samples) {
        this(statistics, errors, ranges, Map.of(), samples);
    }

    public CalibrationSums(Map<GroupKey, GroupStatistics> statistics, Map<GroupKey, GroupErrors> errors,
                           Map<GroupKey, InputRange> ranges, Map<GroupKey, GroupStatistics> vision, long samples) {
        this.statistics = Collections.unmodifiableMap(new TreeMap<>(statistics));
        this.errors = Collections.unmodifiableMap(new TreeMap<>(errors));
        this.ranges = Collections.unmodifiableMap(new TreeMap<>(ranges));
        this.vision = Collections.unmodifiableMap(new TreeMap<>(vision));
        this.samples = samples;
    }

    /** One sample's sums. */
    public static CalibrationSums ofSample(Map<GroupKey, GroupStatistics> statistics, Map<GroupKey, GroupErrors> errors) {
        return new CalibrationSums(statistics, errors, 1);
    }

    /** One sample's sums with its input ranges and vision-token statistics. */
    public static CalibrationSums ofSample(Map<GroupKey, GroupStatistics> statistics, Map<GroupKey, GroupErrors> errors,
                                          Map<GroupKey, InputRange> ranges, Map<GroupKey, GroupStatistics> vision) {
        return new CalibrationSums(statistics, errors, ranges, vision, 1);
    }

    /** The sum of two sets of sums; a group present on one side only keeps its sums. */
    public CalibrationSums plus(CalibrationSums o) {
        Map<GroupKey, GroupStatistics> s = new TreeMap<>(statistics);
        o.statistics.forEach((k, v) -> s.merge(k, v, GroupStatistics::plus));
        Map<GroupKey, GroupErrors> e = new TreeMap<>(errors);
        o.errors.forEach((k, v) -> e.merge(k, v, GroupErrors::plus));
        Map<GroupKey, InputRange> r = new TreeMap<>(ranges);
        o.ranges.forEach((k, v) -> r.merge(k, v, InputRange::plus));
        Map<GroupKey, GroupStatistics> v = new TreeMap<>(vision);
        o.vision.forEach((k, x) -> v.merge(k, x, GroupStatistics::plus));
        return new CalibrationSums(s, e, r, v, samples + o.samples);
    }

    /**
     * The statistics of the vision tokens alone (their channel sums of |x| and their count; no
     * gradients) at the sites the drift check watches: the first decoder layer's attention input, in
     * full precision, where a change of the images shows before the text tokens dilute it.
     */
    public Map<GroupKey, GroupStatistics> vision() {
        return vision;
    }

    /** Input ranges per site; empty unless the scheme quantizes activations statically. */
    public Map<GroupKey, InputRange> ranges() {
        return ranges;
    }

    public Map<GroupKey, GroupStatistics> statistics() {
        return statistics;
    }

    /** Error sums of the searched groups; empty for statistics-only sums. */
    public Map<GroupKey, GroupErrors> errors() {
        return errors;
    }

    public boolean hasErrors() {
        return !errors.isEmpty();
    }

    /** Samples summed. */
    public long samples() {
        return samples;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CalibrationSums c && samples == c.samples && statistics.equals(c.statistics)
                && errors.equals(c.errors) && ranges.equals(c.ranges) && vision.equals(c.vision);
    }

    @Override
    public int hashCode() {
        return Objects.hash(statistics, errors, ranges, vision, samples);
    }
}
