package dev.qig.app;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.qig.core.data.SyntheticWorld;
import dev.qig.core.data.VqaSample;
import dev.qig.core.model.DecoderLayer;
import dev.qig.core.model.QuantizableLinear;
import dev.qig.core.quant.BatchCalibrator;
import dev.qig.core.quant.CalibrationPlan;
import dev.qig.core.quant.PartialSumsEngine;
import dev.qig.core.quant.CalibrationSettings;
import dev.qig.core.quant.EngineTimings;
import dev.qig.core.quant.EngineTimings.Phase;
import dev.qig.core.quant.EqualizationGroup;
import dev.qig.core.quant.Method;
import dev.qig.core.quant.QuantScheme;
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
final class BenchCommand implements Callable<Integer> {

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

    @Option(names = "--repeats", description = "Measured runs (with --stream: rounds after the warm-up) (default: ${DEFAULT-VALUE}).")
    int repeats = 3;

    @Option(names = "--quadrature", description = "Token-weight error and alpha agreement of every integration rule "
            + "and number of points against a 512-point reference, with their cost (samples: --samples, clean).")
    boolean quadrature;

    @Option(names = "--shift", description = "How far the channel means move between rounds of one domain and between "
            + "domains, per group (rounds of --samples samples): what the drift threshold is chosen from.")
    boolean shift;

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
            VqaModel vqa = model.load(manager);
            CalibrationSettings settings = ig.apply(CalibrationSettings.builder(quantScheme)).build();
            System.out.printf(Locale.ROOT, "qig bench: %s, %s, %d samples, QIG with %d %s points, %d cores, libtorch threads %s%n",
                    model.location, quantScheme.id(), samples, settings.igSteps(), settings.igRule().id(),
                    Runtime.getRuntime().availableProcessors(), System.getProperty("ai.djl.pytorch.num_threads"));

            // This machine's speed drifts by tens of percent over minutes (a shared 2-core VM): every figure
            // is measured `repeats` times, MBQ and QIG taking turns at going first, and reported as the
            // median with its range; the matmul is measured right before each IG loop it is compared with.
            List<Double> ratios = new ArrayList<>();
            List<Double> efficiencies = new ArrayList<>();
            List<Double> matmuls = new ArrayList<>();
            EngineTimings tm = null;
            EngineTimings tq = null;
            double flops = 0;
            for (int r = 0; r < repeats; r++) {
                BatchCalibrator mbq = new BatchCalibrator(vqa, settings, model.id);
                BatchCalibrator qig = new BatchCalibrator(vqa, settings, model.id);
                double matmul = matmulGflops(manager);
                double qigSeconds = 0;
                double mbqSeconds;
                if (r % 2 == 1) {
                    qigSeconds = qig.calibrate(EnumSet.of(Method.QIG), calibration, manager, (p, n) -> { }).seconds();
                }
                mbqSeconds = mbq.calibrate(EnumSet.of(Method.MBQ), calibration, manager, (p, n) -> { }).seconds();
                if (r % 2 == 0) {
                    qigSeconds = qig.calibrate(EnumSet.of(Method.QIG), calibration, manager, (p, n) -> { }).seconds();
                }
                tm = mbq.engine().timings();
                tq = qig.engine().timings();
                flops = igFlops(qig.engine(), vqa, calibration, settings);
                double achieved = flops / tq.seconds(Phase.INTEGRATED_GRADIENTS) / 1e9;
                ratios.add(qigSeconds / mbqSeconds);
                efficiencies.add(achieved / matmul);
                matmuls.add(matmul);
                System.out.printf(Locale.ROOT, "run %d: MBQ %.1f s, QIG %.1f s, QIG / MBQ %.2f; matmul %.1f GFLOP/s, "
                        + "integrated gradients %.1f GFLOP in %.1f s = %.1f GFLOP/s (%.0f%%)%n", r + 1, mbqSeconds, qigSeconds,
                        qigSeconds / mbqSeconds, matmul, flops / 1e9, tq.seconds(Phase.INTEGRATED_GRADIENTS), achieved,
                        100 * achieved / matmul);
            }
            // Each calibration runs two passes over the samples: per-sample figures are per pass (last run).
            System.out.println();
            System.out.println("| phase (last run) | seconds per sample |");
            System.out.println("|---|---:|");
            row("MBQ gradient pass (forward + backward of the answer loss)", tm.secondsPerSample(Phase.GRADIENT));
            row("forward pass capturing group inputs (AWQ, QIG)", tq.secondsPerSample(Phase.FORWARD));
            row(String.format(Locale.ROOT, "QIG attribution (%d-point %s integrated gradients, all groups)", settings.igSteps(),
                    settings.igRule().id()), 2 * tq.secondsPerSample(Phase.INTEGRATED_GRADIENTS));
            row("grid search (20 alphas, all groups)", 2 * tq.secondsPerSample(Phase.GRID));
            if (quantScheme.quantizesActivations()) {
                row("distorted (quantized-model) pass", tq.secondsPerSample(Phase.DISTORTED));
            }
            System.out.println();
            System.out.printf(Locale.ROOT, "QIG / MBQ calibration time on %d samples: median %.2f (%s of %d runs)%n", samples,
                    median(ratios), range(ratios, 2), repeats);
            System.out.printf(Locale.ROOT, "integrated gradients against the measured matmul throughput: median %.0f%% "
                    + "(%s; matmul %s GFLOP/s)%n", 100 * median(efficiencies), range(efficiencies.stream().map(x -> 100 * x)
                    .toList(), 0) + "%", range(matmuls, 1));
        }
        return 0;
    }

    /** One search pass over the samples, twice in the main thread and twice in a new thread each, after a warm-up. */
    private void threadCheck(QuantScheme quantScheme) throws Exception {
        List<VqaSample> calibration = new SyntheticWorld().trainingMix(samples, 2026);
        try (NDManager manager = NDManager.newBaseManager()) {
            VqaModel vqa = model.load(manager);
            PartialSumsEngine engine = new PartialSumsEngine(vqa, CalibrationSettings.defaults(quantScheme), model.id);
            EnumSet<Method> all = EnumSet.allOf(Method.class);
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

    private static void row(String name, double seconds) {
        System.out.printf(Locale.ROOT, "| %s | %.4f |%n", name, seconds);
    }

    /** Best of a few timed runs of a matmul the size of the IG loop's MLP work. */
    static double matmulGflops(NDManager parent) {
        try (NDManager m = parent.newSubManager()) {
            NDArray a = m.randomNormal(new Shape(8192, 256));
            NDArray b = m.randomNormal(new Shape(256, 768));
            for (int i = 0; i < 3; i++) {
                a.matMul(b).close();
            }
            double best = 0;
            for (int run = 0; run < 5; run++) {
                long start = System.nanoTime();
                int reps = 10;
                for (int i = 0; i < reps; i++) {
                    a.matMul(b).close();
                }
                double s = (System.nanoTime() - start) / 1e9;
                best = Math.max(best, reps * 2.0 * 8192 * 256 * 768 / s / 1e9);
            }
            return best;
        }
    }

    /**
     * Linear-layer FLOPs of the IG loop: per group module, steps x real tokens x 2 x (weights in the
     * module) per forward; a full-precision and a quantized forward, and an input-gradient backward of
     * the same size through each branch that carries gradient.
     */
    static double igFlops(PartialSumsEngine engine, VqaModel vqa, List<VqaSample> samples, CalibrationSettings settings) {
        long tokens = 0;
        for (VqaSample s : samples) {
            tokens += vqa.processor().encode(s.question(), s.answer(), vqa.model().config().visionTokens()).length();
        }
        int branchesWithGradient = settings.scheme().quantizesActivations() ? 1 : 2;
        double total = 0;
        for (DecoderLayer layer : vqa.model().layers()) {
            for (EqualizationGroup g : EqualizationGroup.values()) {
                if (!g.appliesTo(layer)) {
                    continue;
                }
                long weights = 0;
                for (QuantizableLinear l : g.moduleLinears(layer)) {
                    weights += (long) l.inFeatures() * l.outFeatures();
                }
                // Only the points the engine evaluates count (one for a homogeneous single linear).
                double forward = 2.0 * weights * tokens * engine.igPoints(layer, g);
                total += forward * (2 + branchesWithGradient);
            }
        }
        return total;
    }
}
