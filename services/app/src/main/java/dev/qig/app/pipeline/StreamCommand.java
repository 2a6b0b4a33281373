package dev.qig.app.pipeline;

import dev.qig.server.ProgressLine;
import dev.qig.app.ModelOption;
import dev.qig.app.SchemeOption;
import ai.djl.ndarray.NDManager;
import dev.qig.data.Domain;
import dev.qig.data.VisualQuestion;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VqaSample;
import dev.qig.core.engine.BatchCalibrator;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.core.vqa.VqaModel;
import dev.qig.kafka.records.Records;
import dev.qig.schemas.CalibrationPlan;
import dev.qig.schemas.GroupChoice;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code qig stream}: a broker-backed calibration in one command. Starts a Kafka broker in process
 * (or uses the one given), the in-memory schema registry, the aggregator and the attributors, streams
 * synthetic samples round by round through ingest, and prints the configs every round produced; then
 * checks the last round against the batch calibrator given the same plan and samples.
 */
@Command(name = "stream", mixinStandardHelpOptions = true,
        description = "Calibrate through Kafka: ingest -> attributors -> aggregator on a broker in this JVM (or yours); "
                + "prints each round's configs and checks the last round against the batch calibrator.")
public final class StreamCommand implements Callable<Integer> {

    @Mixin
    ModelOption model;

    @Mixin
    SchemeOption scheme;

    @Option(names = "--samples", description = "Samples per round (default: ${DEFAULT-VALUE}).")
    int samples = 32;

    @Option(names = "--rounds", description = "Rounds: the first gathers statistics for the first plan, every later "
            + "one searches and yields a config per method (default: ${DEFAULT-VALUE}).")
    int rounds = 3;

    @Option(names = "--domains", description = "Domain of each round, cycled: mix, or a comma-separated list of "
            + "clean, cluttered, lowlight, qmix (default: ${DEFAULT-VALUE}).")
    String domains = "mix";

    @Option(names = "--seed", description = "Seed of the streamed samples (default: ${DEFAULT-VALUE}).")
    long seed = 2026;

    @Option(names = "--attributors", description = "Attributor instances, members of one consumer group (default: ${DEFAULT-VALUE}).")
    int attributors = 1;

    @Option(names = "--workers", description = "Worker threads per attributor, each with its own model copy (default: ${DEFAULT-VALUE}).")
    int workers = 1;

    @Option(names = "--batch", description = "Samples per engine pass (default: ${DEFAULT-VALUE}).")
    int batch = 8;

    @Option(names = "--bootstrap-servers", description = "Use this Kafka cluster instead of a broker in this JVM.")
    String bootstrapServers;

    @Option(names = "--schema-registry-url", description = "Use this Confluent-compatible registry instead of mock://.")
    String registryUrl;

    @Option(names = "--no-batch-check", description = "Skip the comparison of the last round with the batch calibrator.")
    boolean noBatchCheck;

    @Option(names = "--timeout-minutes", description = "Give up on a round after this long (default: ${DEFAULT-VALUE}).")
    int timeoutMinutes = 30;

    @Override
    public Integer call() throws Exception {
        if (rounds < 2 || samples < 1) {
            throw new IllegalArgumentException("--rounds must be at least 2 (statistics, then search) and --samples positive");
        }
        List<String> roundDomains = domainList(domains);
        LocalPipeline.Options o = new LocalPipeline.Options();
        o.model = model.location;
        o.scheme = scheme.scheme();
        o.roundSamples = samples;
        o.attributors = attributors;
        o.workers = workers;
        o.batchSize = batch;
        o.bootstrapServers = bootstrapServers;
        o.registryUrl = registryUrl;
        long start = System.nanoTime();
        System.out.printf(Locale.ROOT, "qig stream: %s, %d rounds of %d samples (%s), %d attributor(s) x %d worker(s)%n",
                o.scheme.id(), rounds, samples, domains, attributors, workers);
        Duration timeout = Duration.ofMinutes(timeoutMinutes);
        try (LocalPipeline pipeline = LocalPipeline.start(o)) {
            System.out.printf(Locale.ROOT, "kafka %s%s, registry %s, model %s; started in %.1f s%n",
                    pipeline.bootstrapServers(), bootstrapServers == null ? " (in this JVM)" : "", pipeline.registryUrl(),
                    pipeline.modelId(), seconds(start));
            System.out.println("round key " + pipeline.roundKey());
            SyntheticWorld world = new SyntheticWorld();
            List<Row> rows = new ArrayList<>();
            List<VqaSample> last = null;
            CalibrationPlan lastPlan = null;
            long attributedBefore = 0;
            for (int r = 1; r <= rounds; r++) {
                String domain = roundDomains.get((r - 1) % roundDomains.size());
                List<VqaSample> batchOfRound = "mix".equals(domain) ? world.trainingMix(samples, seed + r)
                        : world.generate(Domain.parse(domain), samples, seed + r);
                CalibrationPlan plan = r == 1 ? null : pipeline.awaitPlan(r - 1, timeout, () -> { });
                long roundStart = System.nanoTime();
                pipeline.ingest(batchOfRound, "qig-stream");
                long base = attributedBefore;
                int round = r;
                ProgressLine progress = new ProgressLine(System.out);
                Runnable tick = () -> progress.show(() -> String.format(Locale.ROOT, "round %d: attributed %d/%d, summed %d/%d",
                        round, pipeline.attributed() - base, samples, pipeline.roundProgress(), samples));
                Map<String, dev.qig.schemas.QuantConfig> configs = Map.of();
                if (r == 1) {
                    pipeline.awaitPlan(1, timeout, tick);
                } else {
                    configs = pipeline.awaitConfigs(r, timeout, tick);
                }
                attributedBefore = pipeline.attributed();
                double s = seconds(roundStart);
                progress.done(String.format(Locale.ROOT, "round %d (%s, plan %d): %d samples in %.1f s, %.2f samples/s%s", r,
                        domain, r - 1, samples, s, samples / s, r == 1 ? "; statistics for plan 1" : "; configs " + configs.keySet()));
                rows.add(new Row(r, domain, r - 1, s, configs));
                last = batchOfRound;
                lastPlan = plan;
            }
            System.out.println();
            System.out.println(table(rows));
            System.out.println("dead letters: " + (pipeline.deadLetters().isEmpty() ? "none" : pipeline.deadLetters()));
            if (!noBatchCheck) {
                batchCheck(pipeline, last, lastPlan, rows.get(rows.size() - 1).configs());
            }
            System.out.printf(Locale.ROOT, "done in %.1f s%n", seconds(start));
        }
        return 0;
    }

    /** The last round again, in this process, with the batch calibrator and the stream's plan. */
    private void batchCheck(LocalPipeline pipeline, List<VqaSample> samplesOfRound, CalibrationPlan plan,
                            Map<String, dev.qig.schemas.QuantConfig> streamed) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            VqaModel vqa = model.load(manager);
            CalibrationSettings settings = CalibrationSettings.defaults(scheme.scheme()).withBatchSize(batch);
            BatchCalibrator calibrator = new BatchCalibrator(vqa, settings, pipeline.modelId());
            List<VisualQuestion> questions = LocalPipeline.asStreamed(samplesOfRound, vqa.processor());
            ProgressLine progress = new ProgressLine(System.out);
            BatchCalibrator.Result r = calibrator.calibrate(Method.scaleSearches(), questions, Records.plan(plan),
                    manager, (pass, n) -> progress.show(() -> "batch check: " + n + "/" + questions.size()));
            int groups = 0;
            int sameAlpha = 0;
            int sameLoss = 0;
            for (Map.Entry<Method, QuantConfig> e : r.configs().entrySet()) {
                Map<String, GroupChoice> stream = new java.util.HashMap<>();
                for (GroupChoice g : streamed.get(e.getKey().id()).getGroups()) {
                    stream.put(g.getLayer() + "." + g.getGroup(), g);
                }
                for (var g : e.getValue().groups().entrySet()) {
                    GroupChoice s = stream.get(g.getKey().layer() + "." + g.getKey().group().id());
                    groups++;
                    sameAlpha += s != null && s.getAlpha() == g.getValue().alpha() ? 1 : 0;
                    sameLoss += s != null && s.getLoss() == g.getValue().loss() ? 1 : 0;
                }
            }
            progress.done(String.format(Locale.ROOT, "batch check (the last round's samples and plan through the batch "
                    + "calibrator, %.1f s): %d of %d group choices with the same alpha, %d with bit-identical losses",
                    r.seconds(), sameAlpha, groups, sameLoss));
        }
    }

    private record Row(int round, String domain, long plan, double seconds, Map<String, dev.qig.schemas.QuantConfig> configs) {}

    private static String table(List<Row> rows) {
        StringBuilder sb = new StringBuilder("| round | domain | plan | seconds | method | alpha per group (layer 0 qkv, gate_up, down; layer 1 ...) | loss / RTN loss |\n");
        sb.append("|---:|---|---:|---:|---|---|---:|\n");
        for (Row r : rows) {
            if (r.configs().isEmpty()) {
                sb.append(String.format(Locale.ROOT, "| %d | %s | %d | %.1f | - | statistics for the first plan | |%n",
                        r.round(), r.domain(), r.plan(), r.seconds()));
                continue;
            }
            for (var c : r.configs().values()) {
                if (c.getGroups().isEmpty()) {
                    continue; // RTN: no scales
                }
                StringBuilder alphas = new StringBuilder();
                double ratio = 0;
                for (GroupChoice g : c.getGroups()) {
                    alphas.append(alphas.length() == 0 ? "" : " ").append(String.format(Locale.ROOT, "%.2f", g.getAlpha()));
                    ratio += g.getLoss() / g.getLossAtZero();
                }
                sb.append(String.format(Locale.ROOT, "| %d | %s | %d | %.1f | %s | %s | %.3f |%n", r.round(), r.domain(),
                        r.plan(), r.seconds(), c.getMethod(), alphas, ratio / c.getGroups().size()));
            }
        }
        return sb.toString();
    }

    private static List<String> domainList(String spec) {
        List<String> out = new ArrayList<>();
        for (String d : spec.split(",")) {
            String s = d.strip().toLowerCase(Locale.ROOT);
            if (!s.equals("mix")) {
                Domain.parse(s);
            }
            out.add(s);
        }
        return out;
    }

    private static double seconds(long since) {
        return (System.nanoTime() - since) / 1e9;
    }
}
