package dev.qig.app.bench;

import dev.qig.app.IgOptions;
import dev.qig.app.ModelOption;
import dev.qig.server.ProgressLine;
import dev.qig.app.SchemeOption;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VqaSample;
import dev.qig.core.model.LvlmConfig;
import dev.qig.core.engine.BatchCalibrator;
import dev.qig.quant.CalibrationPlan;
import dev.qig.core.engine.PartialSumsEngine;
import dev.qig.quant.CalibrationSettings;
import dev.qig.core.engine.EngineTimings;
import dev.qig.core.engine.EngineTimings.Phase;
import dev.qig.quant.Method;
import dev.qig.quant.QuantScheme;
import dev.qig.core.vqa.VqaModel;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code qig bench}: what calibration costs on this machine. Per-sample seconds of each engine phase,
 * QIG's calibration time over MBQ's on the same samples, and the efficiency of the integrated-
 * gradients loop against the measured libtorch matmul throughput.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmark calibration: seconds per sample of QIG attribution, MBQ's gradient pass and the grid search; "
                + "QIG over MBQ calibration time; IG efficiency against measured matmul FLOP/s.")
public final class BenchCommand implements Callable<Integer> {

    @Mixin
    ModelOption model;

    @Mixin
    SchemeOption scheme;

    @Mixin
    IgOptions ig;

    @Option(names = "--samples", description = "Calibration samples (per round with --stream) (default: ${DEFAULT-VALUE}).")
    int samples = 64;

    @Option(names = "--stream", description = "Measure a search round through Kafka (ingest, attributor, aggregator in "
            + "this JVM) against the batch calibrator on the same samples and plan.")
    boolean stream;

    @Option(names = "--workers", description = "With --stream: attributor worker threads (default: ${DEFAULT-VALUE}).")
    int workers = 1;

    @Option(names = "--batch", description = "Samples per engine pass (default: ${DEFAULT-VALUE}).")
    int batch = 8;

    @Option(names = "--repeats", description = "Measured runs (with --stream: rounds after the warm-up); 0 reports the "
            + "model's loading time and memory only (default: ${DEFAULT-VALUE}).")
    int repeats = 3;

    @Option(names = "--quadrature", description = "Token-weight error and alpha agreement of every integration rule "
            + "and number of points against a 512-point reference, with their cost (samples: --samples, clean).")
    boolean quadrature;

    @Option(names = "--shift", description = "How far the channel means move between rounds of one domain and between "
            + "domains, per group (rounds of --samples samples): what the drift threshold is chosen from.")
    boolean shift;

    @Option(names = "--aggregator", description = "LayerStats records per second through the aggregator (a broker in this "
            + "JVM, exactly-once), against one attributor worker's samples per second (rounds of --samples, --repeats "
            + "rounds).")
    boolean aggregator;

    @Option(names = "--threads", description = "Time the same calibration pass in the main thread and in new threads "
            + "(the attributor's workers are such threads).")
    boolean threads;

    @Override
    public Integer call() throws Exception {
        QuantScheme quantScheme = scheme.scheme();
        if (stream) {
            StreamBench.run(model, quantScheme, samples, workers, batch, repeats);
            return 0;
        }
        if (aggregator) {
            AggregatorBench.run(model, quantScheme, samples, Math.max(1, repeats));
            return 0;
        }
        if (threads) {
            threadCheck(quantScheme);
            return 0;
        }
        if (quadrature) {
            QuadratureBench.run(model, quantScheme, samples);
            return 0;
        }
        if (shift) {
            ShiftBench.run(model, quantScheme, samples);
            return 0;
        }
        List<VqaSample> calibration = new SyntheticWorld().trainingMix(samples, 2026);
        try (NDManager manager = NDManager.newBaseManager()) {
            long loadStart = System.nanoTime();
            VqaModel vqa;
            String loading;
            try (MemoryPeak peak = MemoryPeak.start()) {
                vqa = model.load(manager);
                loading = peak.summary();
            }
            double loadSeconds = (System.nanoTime() - loadStart) / 1e9;
            CalibrationSettings settings = ig.apply(CalibrationSettings.builder(quantScheme)).batchSize(batch).build();
            LvlmConfig config = vqa.model().config();
            int tokens = 0;
            for (VqaSample s : calibration) {
                tokens += vqa.processor().encode(s.question(), s.answer(), config.visionTokens()).length();
            }
            tokens = Math.round((float) tokens / calibration.size());
            System.out.printf(Locale.ROOT, "qig bench: %s, %s, %d samples, QIG with %d %s points, %d per engine pass, on %s, "
                    + "%d cores, libtorch threads %s%n", model.location, quantScheme.id(), samples, settings.igSteps(),
                    settings.igRule().id(), settings.batchSize(), manager.getDevice(), Runtime.getRuntime().availableProcessors(),
                    System.getProperty("ai.djl.pytorch.num_threads"));
            System.out.printf(Locale.ROOT, "model: %.2f B parameters (%.1f GB in float32), %d decoder layers, %d tokens per sample "
                    + "(%d image); loaded in %.1f s, %s%n", vqa.model().parameterCount() / 1e9,
                    vqa.model().parameterCount() * 4 / 1e9, config.layers(), tokens, config.visionTokens(), loadSeconds, loading);

            if (repeats == 0) {
                return 0; // the model and its loading cost only
            }
            // This machine's speed drifts by tens of percent over minutes (a shared 2-core VM): every figure
            // is measured `repeats` times, MBQ and QIG taking turns at going first, and reported as the
            // median with its range; the matmul is measured right before each IG loop it is compared with.
            List<Double> ratios = new ArrayList<>();
            List<Double> efficiencies = new ArrayList<>();
            List<Double> withAttention = new ArrayList<>();
            List<Double> matmuls = new ArrayList<>();
            EngineTimings tm = null;
            EngineTimings tq = null;
            CalibrationCost cost = null;
            String calibrating = "";
            ProgressLine progress = new ProgressLine(System.out);
            for (int r = 0; r < repeats; r++) {
                int run = r + 1;
                BatchCalibrator mbq = new BatchCalibrator(vqa, settings, model.id);
                BatchCalibrator qig = new BatchCalibrator(vqa, settings, model.id);
                double matmul = matmulGflops(manager, config);
                double qigSeconds = 0;
                double mbqSeconds;
                try (MemoryPeak peak = MemoryPeak.start()) {
                    if (r % 2 == 1) {
                        qigSeconds = qig.calibrate(EnumSet.of(Method.QIG), calibration, manager, show(progress, run, "QIG")).seconds();
                    }
                    mbqSeconds = mbq.calibrate(EnumSet.of(Method.MBQ), calibration, manager, show(progress, run, "MBQ")).seconds();
                    if (r % 2 == 0) {
                        qigSeconds = qig.calibrate(EnumSet.of(Method.QIG), calibration, manager, show(progress, run, "QIG")).seconds();
                    }
                    calibrating = peak.summary();
                }
                tm = mbq.engine().timings();
                tq = qig.engine().timings();
                cost = CalibrationCost.of(qig.engine(), vqa, tokens, settings);
                double igSeconds = tq.seconds(Phase.INTEGRATED_GRADIENTS);
                double achieved = samples * cost.integratedGradientsLinears() / igSeconds / 1e9;
                ratios.add(qigSeconds / mbqSeconds);
                efficiencies.add(achieved / matmul);
                withAttention.add(samples * cost.integratedGradients() / igSeconds / 1e9 / matmul);
                matmuls.add(matmul);
                progress.done(String.format(Locale.ROOT, "run %d: MBQ %.1f s, QIG %.1f s, QIG / MBQ %.2f; matmul %.1f GFLOP/s, "
                        + "integrated gradients %.1f GFLOP (linears) in %.1f s = %.1f GFLOP/s (%.0f%%)", run, mbqSeconds,
                        qigSeconds, qigSeconds / mbqSeconds, matmul, samples * cost.integratedGradientsLinears() / 1e9, igSeconds,
                        achieved, 100 * achieved / matmul));
            }
            // Each calibration runs two passes over the samples: per-sample figures are per pass (last run).
            System.out.println();
            System.out.println("| phase (last run) | seconds per sample | GFLOP per sample | GFLOP/s |");
            System.out.println("|---|---:|---:|---:|");
            row("MBQ gradient pass (forward + backward of the answer loss)", tm.secondsPerSample(Phase.GRADIENT), cost.gradient());
            row("forward pass capturing group inputs (AWQ, QIG)", tq.secondsPerSample(Phase.FORWARD), cost.forward());
            row(String.format(Locale.ROOT, "QIG attribution (%d-point %s integrated gradients, all groups)", settings.igSteps(),
                    settings.igRule().id()), 2 * tq.secondsPerSample(Phase.INTEGRATED_GRADIENTS), cost.integratedGradients());
            row("grid search (20 alphas, all groups)", 2 * tq.secondsPerSample(Phase.GRID), cost.grid());
            if (settings.needsDistortedStream()) {
                row("distorted (quantized-model) pass", tq.secondsPerSample(Phase.DISTORTED), cost.distorted());
            }
            System.out.println();
            System.out.printf(Locale.ROOT, "QIG / MBQ calibration time on %d samples: median %.2f (%s of %d runs); "
                    + "their FLOP counts: %.2f%n", samples, median(ratios), range(ratios, 2), repeats, cost.qig() / cost.mbq());
            System.out.printf(Locale.ROOT, "integrated gradients against the measured matmul throughput: median %.0f%% "
                    + "(%s; matmul %s GFLOP/s); counting attention's products too: %.0f%%%n", 100 * median(efficiencies),
                    range(efficiencies.stream().map(x -> 100 * x).toList(), 0) + "%", range(matmuls, 1),
                    100 * median(withAttention));
            System.out.println("memory while calibrating (last run): " + calibrating);
        }
        return 0;
    }

    private static java.util.function.BiConsumer<String, Integer> show(ProgressLine progress, int run, String method) {
        return (pass, done) -> progress.show(() -> String.format(Locale.ROOT, "run %d: %s %s pass, %d samples done", run, method,
                pass, done));
    }

    /** One search pass over the samples, twice in the main thread and twice in a new thread each, after a warm-up. */
    private void threadCheck(QuantScheme quantScheme) throws Exception {
        List<VqaSample> calibration = new SyntheticWorld().trainingMix(samples, 2026);
        try (NDManager manager = NDManager.newBaseManager()) {
            VqaModel vqa = model.load(manager);
            PartialSumsEngine engine = new PartialSumsEngine(vqa, CalibrationSettings.defaults(quantScheme), model.id);
            EnumSet<Method> all = Method.scaleSearches();
            CalibrationPlan plan = CalibrationPlan.from(1, new BatchCalibrator(vqa, CalibrationSettings.defaults(quantScheme),
                    model.id).calibrate(EnumSet.of(Method.RTN), calibration, manager, (p, n) -> { }).sums().statistics(), null);
            System.out.printf(Locale.ROOT, "qig bench --threads: %s, %d samples per pass, MALLOC_ARENA_MAX=%s%n",
                    quantScheme.id(), samples, System.getenv().getOrDefault("MALLOC_ARENA_MAX", "(unset)"));
            engine.attribute(calibration, plan, all, manager); // warm-up
            for (int i = 0; i < 2; i++) {
                long start = System.nanoTime();
                engine.attribute(calibration, plan, all, manager);
                double main = (System.nanoTime() - start) / 1e9;
                double[] other = new double[1];
                Thread t = new Thread(() -> {
                    long s = System.nanoTime();
                    engine.attribute(calibration, plan, all, manager);
                    other[0] = (System.nanoTime() - s) / 1e9;
                }, "qig-bench-thread");
                t.start();
                t.join();
                System.out.printf(Locale.ROOT, "pass %d: main thread %.1f s, new thread %.1f s%n", i + 1, main, other[0]);
            }
        }
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    private static String range(List<Double> values, int decimals) {
        String f = "%." + decimals + "f";
        return String.format(Locale.ROOT, f + "-" + f, values.stream().mapToDouble(x -> x).min().orElse(Double.NaN),
                values.stream().mapToDouble(x -> x).max().orElse(Double.NaN));
    }

    private static void row(String name, double seconds, double flops) {
        System.out.printf(Locale.ROOT, "| %s | %.4f | %.1f | %.1f |%n", name, seconds, flops / 1e9, flops / seconds / 1e9);
    }

    /**
     * Best of a few timed runs of a matmul shaped like the model's MLP work in the IG loop: 8192 rows
     * (points x tokens) by the decoder width into its MLP width.
     */
    static double matmulGflops(NDManager parent, LvlmConfig config) {
        long rows = 8192;
        long inner = config.hidden();
        long cols = config.intermediate();
        double flops = 2.0 * rows * inner * cols;
        int reps = (int) Math.max(1, Math.min(10, 2e10 / flops)); // about a second a run at 100 GFLOP/s
        try (NDManager m = parent.newSubManager()) {
            NDArray a = m.randomNormal(new Shape(rows, inner));
            NDArray b = m.randomNormal(new Shape(inner, cols));
            for (int i = 0; i < 2; i++) {
                a.matMul(b).close();
            }
            double best = 0;
            for (int run = 0; run < 5; run++) {
                long start = System.nanoTime();
                for (int i = 0; i < reps; i++) {
                    a.matMul(b).close();
                }
                double s = (System.nanoTime() - start) / 1e9;
                best = Math.max(best, reps * flops / s / 1e9);
            }
            return best;
        }
    }
}
