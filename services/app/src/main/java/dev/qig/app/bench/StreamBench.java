package dev.qig.app.bench;

import dev.qig.app.pipeline.LocalPipeline;
import dev.qig.app.ModelOption;
import dev.qig.server.ProgressLine;
import ai.djl.ndarray.NDManager;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VisualQuestion;
import dev.qig.data.VqaSample;
import dev.qig.core.engine.BatchCalibrator;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.Method;
import dev.qig.quant.QuantScheme;
import dev.qig.core.vqa.VqaModel;
import dev.qig.kafka.records.Records;
import dev.qig.schemas.CalibrationPlan;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;

/**
 * {@code qig bench --stream}: samples per second of search rounds through ingest, attributor and
 * aggregator on a broker in this JVM, against the batch calibrator on the same samples under the
 * same plan, in one run. One round of each warms both up; then {@code repeats} rounds are measured,
 * the two drivers taking turns at going first (a 2-core machine drifts by several percent over
 * minutes, so one pair alone says little).
 */
final class StreamBench {

    private StreamBench() {}

    static void run(ModelOption model, QuantScheme scheme, int samples, int workers, int batch, int repeats)
            throws Exception {
        LocalPipeline.Options o = new LocalPipeline.Options();
        o.model = model.location;
        o.scheme = scheme;
        o.roundSamples = samples;
        o.workers = workers;
        o.batchSize = batch;
        SyntheticWorld world = new SyntheticWorld();
        Duration timeout = Duration.ofMinutes(60);
        System.out.printf(Locale.ROOT, "qig bench --stream: %s, %d samples per round, %d measured rounds, 1 attributor x "
                + "%d worker(s), engine batch %d, %d cores, libtorch threads %s%n", scheme.id(), samples, repeats, workers,
                batch, Runtime.getRuntime().availableProcessors(), System.getProperty("ai.djl.pytorch.num_threads"));
        try (LocalPipeline pipeline = LocalPipeline.start(o); NDManager manager = NDManager.newBaseManager()) {
            VqaModel vqa = model.load(manager);
            BatchCalibrator calibrator = new BatchCalibrator(vqa, CalibrationSettings.defaults(scheme).withBatchSize(batch),
                    pipeline.modelId());
            pipeline.ingest(world.trainingMix(samples, 1), "bench");
            pipeline.awaitPlan(1, timeout, () -> { });
            double streamTotal = 0;
            double batchTotal = 0;
            double engineTotal = 0;
            for (int round = 2; round <= 2 + repeats; round++) {
                CalibrationPlan plan = pipeline.awaitPlan(round - 1, timeout, () -> { });
                List<VqaSample> roundSamples = world.trainingMix(samples, round);
                List<VisualQuestion> questions = LocalPipeline.asStreamed(roundSamples, vqa.processor());
                ProgressLine progress = new ProgressLine(System.out);
                boolean streamFirst = round % 2 == 0;
                double batchSeconds = streamFirst ? 0 : batch(calibrator, questions, plan, manager, progress, round);
                double engineBefore = engineSeconds(pipeline);
                long start = System.nanoTime();
                pipeline.ingest(roundSamples, "bench");
                int r = round;
                pipeline.awaitConfigs(round, timeout, () -> progress.show(() -> String.format(Locale.ROOT,
                        "round %d: stream, %d/%d summed", r, pipeline.roundProgress(), samples)));
                double stream = (System.nanoTime() - start) / 1e9;
                double engine = engineSeconds(pipeline) - engineBefore;
                if (streamFirst) {
                    batchSeconds = batch(calibrator, questions, plan, manager, progress, round);
                }
                progress.done(String.format(Locale.ROOT, "round %d%s: stream %.1f s (attributor engine %.1f s), batch %.1f s",
                        round, round == 2 ? " (warm-up)" : streamFirst ? " (stream first)" : " (batch first)", stream,
                        engine, batchSeconds));
                if (round > 2) {
                    streamTotal += stream;
                    batchTotal += batchSeconds;
                    engineTotal += engine;
                }
            }
            int measured = repeats * samples;
            System.out.println();
            System.out.println("| driver | samples | seconds | samples/s |");
            System.out.println("|---|---:|---:|---:|");
            System.out.println(row("batch: BatchCalibrator, same samples and plans", measured, batchTotal));
            System.out.println(row("stream: ingest -> attributor -> aggregator (Kafka in this JVM)", measured, streamTotal));
            System.out.printf(Locale.ROOT, "%nstream / batch throughput: %.2f (the attributor's engine: %.1f s of the "
                    + "stream's %.1f s)%n", batchTotal / streamTotal, engineTotal, streamTotal);
        }
    }

    private static double batch(BatchCalibrator calibrator, List<VisualQuestion> questions, CalibrationPlan plan,
                                NDManager manager, ProgressLine progress, int round) {
        return calibrator.calibrate(Method.scaleSearches(), questions, Records.plan(plan), manager,
                (pass, n) -> progress.show(() -> String.format(Locale.ROOT, "round %d: batch, %d/%d", round, n,
                        questions.size()))).seconds();
    }

    private static double engineSeconds(LocalPipeline pipeline) {
        return pipeline.attributors().stream().mapToDouble(a -> a.stats().engineSeconds()).sum();
    }

    private static String row(String name, int samples, double seconds) {
        return String.format(Locale.ROOT, "| %s | %d | %.1f | %.3f |", name, samples, seconds, samples / seconds);
    }
}
