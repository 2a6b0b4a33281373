package dev.qig.app.study;

import dev.qig.app.GptqArgs;
import dev.qig.app.IgOptions;
import dev.qig.app.ModelOption;
import dev.qig.app.SchemeOption;
import ai.djl.ndarray.NDManager;
import dev.qig.data.Domain;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VqaSample;
import dev.qig.core.engine.BatchCalibrator;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.quant.QuantScheme;
import dev.qig.core.vqa.EvalReport;
import dev.qig.core.vqa.VqaEvaluator;
import dev.qig.core.vqa.VqaModel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code qig calibrate}: calibrates every requested method on the same samples, evaluates each
 * config against full precision on the held-out sets, and prints and writes the comparison.
 */
@Command(name = "calibrate", mixinStandardHelpOptions = true,
        description = "Calibrate RTN / AWQ / MBQ / QIG / GPTQ / QIG-GPTQ on synthetic samples and compare them with full precision "
                + "on the held-out sets (accuracy, answer log-likelihood, KL to full precision, calibration time).")
public final class CalibrateCommand implements Callable<Integer> {

    @Mixin
    ModelOption model;

    @Mixin
    SchemeOption scheme;

    @Option(names = {"--methods", "--method"}, description = "Comma-separated methods: rtn, awq, mbq, qig, gptq, qig-gptq "
            + "(default: ${DEFAULT-VALUE}).")
    String methods = "rtn,awq,mbq,qig";

    @Option(names = "--samples", description = "Calibration samples (default: ${DEFAULT-VALUE}).")
    int samples = 128;

    @Option(names = "--domain", description = "Calibration domain, or 'mix' for all domains equally (default: ${DEFAULT-VALUE}).")
    String domain = "mix";

    @Option(names = "--seed", description = "Seed of the calibration samples (default: ${DEFAULT-VALUE}).")
    long seed = 2026;

    @Option(names = "--eval-limit", description = "Held-out questions per domain, at most 500 (default: ${DEFAULT-VALUE}).")
    int evalLimit = 500;

    @Option(names = "--paper", description = "Paper behaviour: QIG baseline is always the quantized input.")
    boolean paper;

    @Option(names = "--no-iqr-clip", description = "Turn the IQR clip of QIG token scores off.")
    boolean noIqrClip;

    @Mixin
    IgOptions ig;

    @Mixin
    GptqArgs gptq;

    @Option(names = "--out", description = "Directory for results.csv, results.json and the configs (default: ${DEFAULT-VALUE}).")
    Path out = Path.of("runs", "calibrate");

    @Option(names = "--repeats", description = "Independent calibration draws (seeds seed, seed+1, ...); the comparison "
            + "reports the mean over draws, with paired bootstrap intervals over draws and questions (default: ${DEFAULT-VALUE}).")
    int repeats = 1;

    @Override
    public Integer call() throws Exception {
        QuantScheme quantScheme = scheme.scheme();
        List<Method> methodList = Method.parseList(methods);
        CalibrationSettings settings = ig.apply(CalibrationSettings.builder(quantScheme))
                .iqrClip(!noIqrClip)
                .behaviour(paper ? CalibrationSettings.Behaviour.PAPER : CalibrationSettings.Behaviour.REFERENCE_CODE)
                .build();
        if (repeats < 1) {
            throw new IllegalArgumentException("--repeats must be at least 1");
        }
        SyntheticWorld world = new SyntheticWorld();
        List<VqaSample> eval = new ArrayList<>();
        for (Domain d : Domain.values()) {
            List<VqaSample> set = world.evalSet(d);
            eval.addAll(set.subList(0, Math.min(evalLimit, set.size())));
        }
        Files.createDirectories(out);
        try (NDManager manager = NDManager.newBaseManager()) {
            VqaModel vqa = model.load(manager);
            System.out.printf(Locale.ROOT, "model %s (%s), scheme %s, methods %s, %d calibration samples (%s) x %d draw(s), "
                    + "%d eval questions%n", model.location, model.id, quantScheme.id(), methodList.stream().map(Method::id).toList(), samples, domain, repeats,
                    eval.size());
            VqaEvaluator evaluator = new VqaEvaluator(100);
            List<float[]> reference = evaluator.referenceDistributions(vqa, eval, manager);
            EvalReport fp32 = ConfigRuns.evaluate(evaluator, "fp32", vqa, eval, reference, manager);
            List<Map<Method, EvalReport>> draws = new ArrayList<>();
            List<Map<Method, Double>> drawSeconds = new ArrayList<>();
            StringBuilder tables = new StringBuilder();
            for (int k = 0; k < repeats; k++) {
                List<VqaSample> calibration = "mix".equalsIgnoreCase(domain)
                        ? world.trainingMix(samples, seed + k)
                        : world.generate(Domain.parse(domain), samples, seed + k);
                BatchCalibrator calibrator = new BatchCalibrator(vqa, settings, model.id);
                String draw = repeats == 1 ? "" : String.format(Locale.ROOT, "draw %d/%d (seed %d): ", k + 1, repeats, seed + k);
                String suffix = k == 0 ? "" : "-draw" + (k + 1);
                ConfigRuns.Calibrated calibrated = ConfigRuns.calibrate(calibrator, methodList, calibration, false, gptq.options(),
                        m -> out.resolve("weights-" + quantScheme.id() + "-" + m.id() + suffix + ".safetensors"), manager, draw);
                Map<Method, QuantConfig> configs = calibrated.configs();
                Map<Method, Double> seconds = calibrated.seconds();
                for (Map.Entry<Method, QuantConfig> e : configs.entrySet()) {
                    ConfigRuns.write(out.resolve("config-" + quantScheme.id() + "-" + e.getKey().id() + suffix + ".json"),
                            e.getValue());
                }
                Map<Method, EvalReport> reports = new LinkedHashMap<>();
                for (Map.Entry<Method, QuantConfig> e : configs.entrySet()) {
                    reports.put(e.getKey(), ConfigRuns.evaluate(evaluator, e.getKey().id(), vqa, e.getValue(), eval, reference,
                            manager));
                }
                draws.add(reports);
                drawSeconds.add(seconds);
                List<EvalReport> rows = new ArrayList<>();
                rows.add(fp32);
                rows.addAll(reports.values());
                String table = ResultsTable.render(quantScheme, rows, seconds);
                System.out.println();
                System.out.println((repeats == 1 ? "" : "draw " + (k + 1) + ":\n") + table);
                tables.append(repeats == 1 ? "" : "draw " + (k + 1) + " (seed " + (seed + k) + "):\n\n").append(table).append('\n');
            }
            String comparison = ResultsTable.comparison(quantScheme, fp32, draws);
            System.out.println(comparison);
            ResultsTable.write(out, quantScheme, fp32, draws, drawSeconds, samples, settings, tables + comparison);
            System.out.println("results written to " + out.toAbsolutePath());
        }
        return 0;
    }
}
