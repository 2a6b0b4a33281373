package dev.qig.app;

import ai.djl.ndarray.NDManager;
import dev.qig.core.data.VqaSample;
import dev.qig.core.quant.AppliedQuantization;
import dev.qig.core.quant.BatchCalibrator;
import dev.qig.core.quant.Method;
import dev.qig.core.quant.QuantConfig;
import dev.qig.core.quant.QuantConfigApplier;
import dev.qig.core.vqa.EvalReport;
import dev.qig.core.vqa.VqaEvaluator;
import dev.qig.core.vqa.VqaModel;
import java.util.Collection;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The steps shared by the commands that calibrate configs and compare them with full precision
 * ({@code calibrate}, {@code drift-study}): a calibration with its progress line and the alphas it
 * chose, and an evaluation (of full precision, or with a config applied) with KL to the
 * full-precision answer distributions.
 */
final class ConfigRuns {

    private ConfigRuns() {}

    /**
     * Calibrates {@code methods} together, in one pass over {@code samples}, showing progress on
     * standard output; then prints how long it took and the alphas of every method, on the same
     * line when there is one method. {@code prefix} starts every line (e.g. the draw).
     */
    static BatchCalibrator.Result calibrate(BatchCalibrator calibrator, Collection<Method> methods, List<VqaSample> samples,
                                            NDManager manager, String prefix) {
        String label = methods.stream().map(Method::id).collect(Collectors.joining(","));
        ProgressLine progress = new ProgressLine(System.out);
        BatchCalibrator.Result r = calibrator.calibrate(EnumSet.copyOf(methods), samples, manager,
                (pass, done) -> progress.show(() -> String.format(Locale.ROOT, "%scalibrating %-4s %-10s %4d/%d",
                        prefix, label, pass, done, samples.size())));
        if (methods.size() == 1) {
            String alphas = alphas(r.configs().get(methods.iterator().next()));
            progress.done(String.format(Locale.ROOT, "%scalibrated %-4s in %.1f s%s", prefix, label, r.seconds(),
                    alphas.isEmpty() ? "" : "; " + alphas));
        } else {
            progress.done(String.format(Locale.ROOT, "%scalibrated %s in %.1f s", prefix, label, r.seconds()));
            for (Method m : methods) {
                String alphas = alphas(r.configs().get(m));
                if (!alphas.isEmpty()) {
                    System.out.printf(Locale.ROOT, "%s  %-4s %s%n", prefix, m.id(), alphas);
                }
            }
        }
        return r;
    }

    /** "alphas layer0.qkv=0.65 ...", or "" for a config without scales (RTN). */
    static String alphas(QuantConfig c) {
        if (c.groups().isEmpty()) {
            return "";
        }
        StringBuilder sb = new StringBuilder("alphas");
        c.groups().forEach((k, g) -> sb.append(' ').append(k).append('=').append(String.format(Locale.ROOT, "%.2f", g.alpha())));
        return sb.toString();
    }

    /** Evaluates the model as it is (full precision, or with a config already applied), with a progress line. */
    static EvalReport evaluate(VqaEvaluator evaluator, String label, VqaModel vqa, List<VqaSample> eval,
                               List<float[]> reference, NDManager manager) {
        long start = System.nanoTime();
        ProgressLine progress = new ProgressLine(System.out);
        EvalReport r = evaluator.evaluate(label, vqa, eval, reference, manager,
                done -> progress.show(() -> String.format(Locale.ROOT, "evaluating %-5s %5d/%d", label, done, eval.size())));
        progress.done(String.format(Locale.ROOT, "evaluated %-5s in %.1f s: mean accuracy %.1f%%", label,
                (System.nanoTime() - start) / 1e9, 100 * r.meanAccuracy()));
        return r;
    }

    /** Evaluates the model with {@code config} applied; the model is back in full precision afterwards. */
    static EvalReport evaluate(VqaEvaluator evaluator, String label, VqaModel vqa, QuantConfig config, List<VqaSample> eval,
                               List<float[]> reference, NDManager manager) {
        try (AppliedQuantization applied = QuantConfigApplier.apply(vqa.model(), config)) {
            return evaluate(evaluator, label, vqa, eval, reference, manager);
        }
    }
}
