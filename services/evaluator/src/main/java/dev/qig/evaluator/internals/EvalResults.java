package dev.qig.evaluator.internals;

import dev.qig.data.Domain;
import dev.qig.core.vqa.EvalReport;
import dev.qig.core.vqa.PairedComparison;
import dev.qig.schemas.EvalResult;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** The EvalResult records of one evaluation: one per domain, with paired comparisons on that domain's questions. */
public final class EvalResults {

    /** What the paired comparisons report: McNemar's exact p-value and the paired bootstrap interval. */
    public static final String TEST = "mcnemar-exact+paired-bootstrap";
    /** Method, scheme and config-id suffix of the full-precision reference. */
    public static final String FULL_PRECISION = "fp32";

    /**
     * What was evaluated.
     *
     * @param activeId the active config compared against, or null
     * @param activeOutcomes its per-question correctness, or null
     */
    public record Subject(String configId, String model, String scheme, String method, long configVersion,
                          long weightBytes, String activeId, boolean[] activeOutcomes) {}

    private EvalResults() {}

    /**
     * One record per domain.
     *
     * @param compareWithFullPrecision false for the full-precision reference itself
     */
    public static List<EvalResult> of(Subject subject, ServedModel model, ServedModel.Measured measured,
                                      boolean compareWithFullPrecision, double confidence, String device, Instant at) {
        EvalReport report = measured.report();
        boolean[] correct = report.correctness();
        boolean[] fp = model.fullPrecision().report().correctness();
        List<EvalResult> out = new ArrayList<>();
        for (Domain d : model.domains()) {
            int[] idx = model.indices(d);
            EvalResult.Builder b = EvalResult.newBuilder()
                    .setConfigId(subject.configId())
                    .setModel(subject.model())
                    .setScheme(subject.scheme())
                    .setMethod(subject.method())
                    .setConfigVersion(subject.configVersion())
                    .setDomain(d.id())
                    .setQuestions(idx.length)
                    .setAccuracy(report.accuracy(d))
                    .setAnswerLogLikelihood(report.meanLogLikelihood(d))
                    .setKlToFullPrecision(report.meanKl(d))
                    .setTokensPerSecond(measured.tokensPerSecond().get(d))
                    .setWeightBytes(subject.weightBytes())
                    .setDevice(device)
                    .setVsFullPrecision(compareWithFullPrecision
                            ? record(FULL_PRECISION, PairedComparison.accuracy(pick(correct, idx), pick(fp, idx), confidence))
                            : null)
                    .setVsActive(subject.activeOutcomes() == null ? null
                            : record(subject.activeId(), PairedComparison.accuracy(pick(correct, idx),
                                    pick(subject.activeOutcomes(), idx), confidence)))
                    .setEvaluatedAt(at);
            out.add(b.build());
        }
        return out;
    }

    /** The topic record of a comparison. */
    public static dev.qig.schemas.PairedComparison record(String against, PairedComparison c) {
        return dev.qig.schemas.PairedComparison.newBuilder()
                .setAgainst(against)
                .setTest(TEST)
                .setAccuracyDifference(c.difference())
                .setLower(c.lower())
                .setUpper(c.upper())
                .setConfidence(c.confidence())
                .setPValue(Double.isNaN(c.pValue()) ? null : c.pValue())
                .build();
    }

    private static boolean[] pick(boolean[] all, int[] idx) {
        boolean[] out = new boolean[idx.length];
        for (int i = 0; i < idx.length; i++) {
            out[i] = all[idx[i]];
        }
        return out;
    }
}
