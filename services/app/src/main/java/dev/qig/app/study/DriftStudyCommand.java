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
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code qig drift-study}: does a config re-calibrated after a drift beat the one calibrated before
 * it, on the drifted domain? Per draw, every method is calibrated on samples of the source domain
 * (before) and on samples of each drifted domain (after); both configs answer the drifted domain's
 * held-out questions and are compared question by question.
 */
@Command(name = "drift-study", mixinStandardHelpOptions = true,
        description = "Calibrate on one domain (before a drift) and re-calibrate on another (after it); compare both "
                + "configs on the drifted domain's held-out set: accuracy and KL to full precision, paired tests.")
public final class DriftStudyCommand implements Callable<Integer> {

    @Mixin
    ModelOption model;

    @Mixin
    SchemeOption scheme = new SchemeOption("w4a4");

    @Option(names = "--from", description = "Domain calibrated on before the drift (default: ${DEFAULT-VALUE}).")
    String from = "clean";

    @Option(names = "--to", description = "Comma-separated drifted domains, each re-calibrated on and evaluated on "
            + "(default: ${DEFAULT-VALUE}).")
    String to = "cluttered,lowlight";

    @Option(names = "--methods", description = "Comma-separated calibrating methods; RTN needs no calibration and is "
            + "always reported for reference (default: ${DEFAULT-VALUE}).")
    String methods = "awq,mbq,qig";

    @Option(names = "--samples", description = "Calibration samples per domain and draw (default: ${DEFAULT-VALUE}).")
    int samples = 128;

    @Option(names = "--eval-limit", description = "Held-out questions of each drifted domain, at most "
            + SyntheticWorld.EVAL_SET_SIZE + " (default: ${DEFAULT-VALUE}).")
    int evalLimit = SyntheticWorld.EVAL_SET_SIZE;

    @Option(names = "--repeats", description = "Independent calibration draws (seeds seed, seed+1, ...); intervals are "
            + "paired bootstraps over draws and questions (default: ${DEFAULT-VALUE}).")
    int repeats = 1;

    @Option(names = "--seed", description = "Seed of the calibration samples (default: ${DEFAULT-VALUE}).")
    long seed = 2026;

    @Mixin
    IgOptions ig;

    @Mixin
    GptqArgs gptq = new GptqArgs();

    @Option(names = "--out", description = "Directory for drift-study-<scheme>.md/.csv/.json and the configs "
            + "(default: ${DEFAULT-VALUE}).")
    Path out = Path.of("runs", "drift-study");

    /** The options, checked and parsed. */
    record Study(QuantScheme scheme, Domain from, List<Domain> to, List<Method> methods, int samples, int evalLimit,
                 int repeats, long seed) {}

    /** Checks and parses the options; throws IllegalArgumentException with a message naming the bad one. */
    Study study() {
        QuantScheme s = scheme.scheme();
        Domain source = Domain.parse(from);
        List<Domain> drifted = new ArrayList<>();
        for (String part : to.split(",")) {
            if (!part.isBlank()) {
                Domain d = Domain.parse(part.trim());
                if (d == source) {
                    throw new IllegalArgumentException("--to " + d.id() + " is the --from domain; a drift needs another domain");
                }
                if (!drifted.contains(d)) {
                    drifted.add(d);
                }
            }
        }
        if (drifted.isEmpty()) {
            throw new IllegalArgumentException("--to needs at least one domain");
        }
        List<Method> m = Method.parseList(methods);
        if (m.contains(Method.RTN) && !s.staticActivations()) {
            throw new IllegalArgumentException("--methods: rtn needs no calibration (it is the same before and after a "
                    + "drift) and is always reported for reference; give awq, mbq, qig, gptq and/or qig-gptq (rtn only "
                    + "with a static scheme, whose activation ranges it calibrates)");
        }
        if (samples < 1) {
            throw new IllegalArgumentException("--samples must be at least 1");
        }
        if (evalLimit < 1 || evalLimit > SyntheticWorld.EVAL_SET_SIZE) {
            throw new IllegalArgumentException("--eval-limit must be between 1 and " + SyntheticWorld.EVAL_SET_SIZE);
        }
        if (repeats < 1) {
            throw new IllegalArgumentException("--repeats must be at least 1");
        }
        return new Study(s, source, List.copyOf(drifted), List.copyOf(m), samples, evalLimit, repeats, seed);
    }

    /** One calibration draw: the configs calibrated before and after, and their reports on the drifted domains. */
    record Draw(long seed, Map<Method, QuantConfig> before, Map<Domain, Map<Method, QuantConfig>> after,
                Map<Domain, Map<Method, EvalReport>> beforeReports, Map<Domain, Map<Method, EvalReport>> afterReports) {}

    @Override
    public Integer call() throws Exception {
        Study study = study();
        CalibrationSettings settings = ig.apply(CalibrationSettings.builder(study.scheme())).build();
        SyntheticWorld world = new SyntheticWorld();
        Map<Domain, List<VqaSample>> eval = new EnumMap<>(Domain.class);
        for (Domain d : study.to()) {
            eval.put(d, world.evalSet(d).subList(0, study.evalLimit()));
        }
        Path configDir = out.resolve("configs");
        Files.createDirectories(configDir);
        long start = System.nanoTime();
        try (NDManager manager = NDManager.newBaseManager()) {
            VqaModel vqa = model.load(manager);
            System.out.printf(Locale.ROOT, "model %s (%s), scheme %s, methods %s, drift %s -> %s, %d calibration samples "
                    + "per domain x %d draw(s), %d held-out questions per drifted domain%n", model.location, model.id,
                    study.scheme().id(), study.methods().stream().map(Method::id).toList(), study.from().id(), study.to(), study.samples(), study.repeats(),
                    study.evalLimit());
            VqaEvaluator evaluator = new VqaEvaluator(100);
            Map<Domain, List<float[]>> reference = new EnumMap<>(Domain.class);
            Map<Domain, EvalReport> fp32 = new EnumMap<>(Domain.class);
            Map<Domain, EvalReport> rtn = new EnumMap<>(Domain.class);
            // A static scheme's RTN has calibrated activation ranges too: the reference row takes them from the
            // domain before the drift (the first draw's samples).
            QuantConfig rtnConfig = study.scheme().staticActivations()
                    ? new BatchCalibrator(vqa, settings, model.id).calibrate(java.util.EnumSet.of(Method.RTN),
                            world.generate(study.from(), study.samples(), study.seed()), manager, (p, n) -> { })
                            .configs().get(Method.RTN)
                    : QuantConfig.rtn(model.id, study.scheme(), Map.of("driver", "drift-study"));
            for (Domain d : study.to()) {
                reference.put(d, evaluator.referenceDistributions(vqa, eval.get(d), manager));
                fp32.put(d, ConfigRuns.evaluate(evaluator, "fp32 on " + d.id(), vqa, eval.get(d), reference.get(d), manager));
                rtn.put(d, ConfigRuns.evaluate(evaluator, "rtn on " + d.id(), vqa, rtnConfig, eval.get(d), reference.get(d),
                        manager));
            }
            List<Draw> draws = new ArrayList<>();
            for (int k = 0; k < study.repeats(); k++) {
                long drawSeed = study.seed() + k;
                String prefix = study.repeats() == 1 ? "" : String.format(Locale.ROOT, "draw %d/%d (seed %d): ", k + 1,
                        study.repeats(), drawSeed);
                BatchCalibrator calibrator = new BatchCalibrator(vqa, settings, model.id);
                Map<Method, QuantConfig> before = calibrate(calibrator, study, world, study.from(), drawSeed, k, prefix,
                        configDir, manager);
                Map<Domain, Map<Method, QuantConfig>> after = new EnumMap<>(Domain.class);
                for (Domain d : study.to()) {
                    after.put(d, calibrate(calibrator, study, world, d, drawSeed, k, prefix, configDir, manager));
                }
                Map<Domain, Map<Method, EvalReport>> beforeReports = new EnumMap<>(Domain.class);
                Map<Domain, Map<Method, EvalReport>> afterReports = new EnumMap<>(Domain.class);
                for (Domain d : study.to()) {
                    Map<Method, EvalReport> b = new EnumMap<>(Method.class);
                    Map<Method, EvalReport> a = new EnumMap<>(Method.class);
                    for (Method m : study.methods()) {
                        b.put(m, ConfigRuns.evaluate(evaluator, prefix + m.id() + "(" + study.from().id() + ") on " + d.id(),
                                vqa, before.get(m), eval.get(d), reference.get(d), manager));
                        a.put(m, ConfigRuns.evaluate(evaluator, prefix + m.id() + "(" + d.id() + ") on " + d.id(),
                                vqa, after.get(d).get(m), eval.get(d), reference.get(d), manager));
                    }
                    beforeReports.put(d, b);
                    afterReports.put(d, a);
                }
                draws.add(new Draw(drawSeed, before, after, beforeReports, afterReports));
            }
            Map<Domain, List<DriftComparison>> comparisons = new LinkedHashMap<>();
            StringBuilder markdown = new StringBuilder();
            for (Domain d : study.to()) {
                List<DriftComparison> rows = new ArrayList<>();
                for (Method m : study.methods()) {
                    List<boolean[]> rightBefore = new ArrayList<>();
                    List<boolean[]> rightAfter = new ArrayList<>();
                    List<double[]> klBefore = new ArrayList<>();
                    List<double[]> klAfter = new ArrayList<>();
                    for (Draw draw : draws) {
                        rightBefore.add(draw.beforeReports().get(d).get(m).correctness());
                        rightAfter.add(draw.afterReports().get(d).get(m).correctness());
                        klBefore.add(draw.beforeReports().get(d).get(m).questionKl());
                        klAfter.add(draw.afterReports().get(d).get(m).questionKl());
                    }
                    rows.add(DriftComparison.of(m, rightBefore, rightAfter, klBefore, klAfter, ResultsTable.CONFIDENCE));
                }
                comparisons.put(d, rows);
                markdown.append(DriftTable.render(study, d, fp32.get(d), rtn.get(d), rows)).append('\n');
            }
            markdown.append(DriftTable.alphas(study, draws));
            double minutes = (System.nanoTime() - start) / 60e9;
            System.out.println();
            System.out.print(markdown);
            DriftTable.write(out, study, settings, fp32, rtn, comparisons, draws, markdown.toString());
            System.out.printf(Locale.ROOT, "%nresults written to %s (%.1f min)%n", out.toAbsolutePath(), minutes);
        }
        return 0;
    }

    private Map<Method, QuantConfig> calibrate(BatchCalibrator calibrator, Study study, SyntheticWorld world,
                                               Domain domain, long seed, int draw, String prefix, Path configDir,
                                               NDManager manager) throws java.io.IOException {
        List<VqaSample> samples = world.generate(domain, study.samples(), seed);
        String name = String.format(Locale.ROOT, "%s-%%s-%s-draw%d", study.scheme().id(), domain.id(), draw + 1);
        ConfigRuns.Calibrated r = ConfigRuns.calibrate(calibrator, study.methods(), samples, true, gptq.options(),
                m -> configDir.resolve("weights-" + String.format(Locale.ROOT, name, m.id()) + ".safetensors"), manager,
                prefix + domain.id() + ": ");
        Map<Method, QuantConfig> configs = new EnumMap<>(Method.class);
        for (Method m : study.methods()) {
            QuantConfig c = r.configs().get(m);
            configs.put(m, c);
            ConfigRuns.write(configDir.resolve("config-" + String.format(Locale.ROOT, name, m.id()) + ".json"), c);
        }
        return configs;
    }
}
