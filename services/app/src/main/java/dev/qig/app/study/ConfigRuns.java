package dev.qig.app.study;

import dev.qig.server.ProgressLine;
import ai.djl.ndarray.NDManager;
import dev.qig.data.VqaSample;
import dev.qig.core.engine.AppliedQuantization;
import dev.qig.core.engine.BatchCalibrator;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.core.engine.QuantConfigApplier;
import dev.qig.core.engine.gptq.GptqCalibrator;
import dev.qig.quant.GptqOptions;
import dev.qig.core.vqa.EvalReport;
import dev.qig.core.vqa.VqaEvaluator;
import dev.qig.core.vqa.VqaModel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The steps shared by the commands that calibrate configs and compare them with full precision
 * ({@code calibrate}, {@code drift-study}): a calibration with its progress line and the alphas it
 * chose, and an evaluation (of full precision, or with a config applied) with KL to the
 * full-precision answer distributions.
 */
final class ConfigRuns {

    private ConfigRuns() {}

    /** Configs of several methods calibrated on the same samples, with the seconds each took. */
    record Calibrated(Map<Method, QuantConfig> configs, Map<Method, Double> seconds) {}

    /**
     * Calibrates {@code methods} on {@code samples}: the scale searches together in one engine pass
     * when {@code together}, else each on its own (so that each method's time is its own); GPTQ and
     * QIG-GPTQ each on their own, their weights written to {@code weightsFile(method)} and named by
     * the config (absolute location; {@link #write} stores it relative).
     */
    static Calibrated calibrate(BatchCalibrator calibrator, List<Method> methods, List<VqaSample> samples,
                                boolean together, GptqOptions gptq, Function<Method, Path> weightsFile, NDManager manager,
                                String prefix) throws IOException {
        Map<Method, QuantConfig> configs = new LinkedHashMap<>();
        Map<Method, Double> seconds = new LinkedHashMap<>();
        List<Method> searches = methods.stream().filter(Method::searchesScales).toList();
        if (together && !searches.isEmpty()) {
            BatchCalibrator.Result r = calibrate(calibrator, searches, samples, manager, prefix);
            searches.forEach(m -> {
                configs.put(m, r.configs().get(m));
                seconds.put(m, r.seconds());
            });
        }
        for (Method m : methods) {
            if (m.searchesScales() && !together) {
                BatchCalibrator.Result r = calibrate(calibrator, List.of(m), samples, manager, prefix);
                configs.put(m, r.configs().get(m));
                seconds.put(m, r.seconds());
            } else if (m.roundsWithGptq()) {
                long start = System.nanoTime();
                configs.put(m, gptq(calibrator, m, samples, gptq, weightsFile.apply(m), manager, prefix));
                seconds.put(m, (System.nanoTime() - start) / 1e9);
            }
        }
        Map<Method, QuantConfig> ordered = new LinkedHashMap<>();
        methods.forEach(m -> ordered.put(m, configs.get(m)));
        return new Calibrated(ordered, seconds);
    }

    /** GPTQ (or QIG-GPTQ, whose token weights come from QIG's integrated gradients first) with a progress line. */
    private static QuantConfig gptq(BatchCalibrator calibrator, Method m, List<VqaSample> samples,
                                    GptqOptions options, Path weightsFile, NDManager manager, String prefix)
            throws IOException {
        long start = System.nanoTime();
        ProgressLine progress = new ProgressLine(System.out);
        BiConsumer<String, Integer> show = (pass, done) -> progress.show(() -> String.format(Locale.ROOT,
                "%scalibrating %-8s %-24s %4d/%d", prefix, m.id(), pass, done, samples.size()));
        GptqCalibrator.Result r = calibrator.gptq(m, options, samples, manager, show);
        String sha = r.weights().write(weightsFile);
        double error = r.errors().values().stream().mapToDouble(Double::doubleValue).sum();
        progress.done(String.format(Locale.ROOT, "%scalibrated %-8s in %.1f s; GPTQ error summed over %d linears %.4g",
                prefix, m.id(), (System.nanoTime() - start) / 1e9, r.errors().size(), error));
        Map<String, String> provenance = new TreeMap<>(Map.of("samples", Integer.toString(samples.size()), "driver", "batch",
                "gptqDamp", Double.toString(options.damp()), "gptqActOrder", Boolean.toString(options.actOrder())));
        return new QuantConfig(calibrator.modelId(), calibrator.engine().settings().scheme(), m, 1, 1, Map.of(), provenance,
                new QuantConfig.WeightsRef(weightsFile.toAbsolutePath().toString(), sha));
    }

    /** Writes a config file; its weights, if any, are named relative to the file's folder. */
    static void write(Path file, QuantConfig c) throws IOException {
        QuantConfig stored = c;
        if (c.weights() != null) {
            Path folder = file.toAbsolutePath().getParent();
            stored = c.withWeights(new QuantConfig.WeightsRef(
                    folder.relativize(Path.of(c.weights().location()).toAbsolutePath()).toString(), c.weights().sha256()));
        }
        Files.writeString(file, stored.toJson(), StandardCharsets.UTF_8);
    }

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
