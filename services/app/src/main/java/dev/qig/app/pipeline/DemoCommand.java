package dev.qig.app.pipeline;

import dev.qig.app.ModelOption;
import dev.qig.server.ProgressLine;
import dev.qig.aggregator.RoundStatus;
import dev.qig.data.Domain;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VqaSample;
import dev.qig.quant.Method;
import dev.qig.schemas.ActiveConfig;
import dev.qig.schemas.DriftEvent;
import dev.qig.schemas.EvalResult;
import dev.qig.schemas.ModelPublished;
import dev.qig.schemas.QuantConfig;
import java.time.Duration;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code qig demo}: the service end to end in one JVM. A Kafka broker in process, the in-memory
 * registry, ingest, an attributor, the aggregator (re-quantizing on drift) and the evaluator; one
 * domain streams for a few rounds, then another. Shows progress while it runs and ends with a table
 * per round: the drift statistics, and per method the accuracy and KL against full precision, on
 * the round's domain, of the config in force, with the config that was promoted.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "The service end to end in one JVM: a broker in process, every service, one domain streamed and then "
                + "another; drift detection, re-quantization, evaluation and promotion, and a table at the end.")
public final class DemoCommand implements Callable<Integer> {

    @Mixin
    ModelOption model;

    @Option(names = "--scheme", description = "Quantization scheme (default: ${DEFAULT-VALUE}, the stress scheme where "
            + "the choice of scales changes answers most).")
    String scheme = "w4a4";

    @Option(names = "--domains", description = "The domains streamed one after the other (default: ${DEFAULT-VALUE}).")
    String domains = "clean,cluttered";

    @Option(names = "--rounds-per-domain", description = "Rounds streamed from each domain (default: ${DEFAULT-VALUE}).")
    int roundsPerDomain = 2;

    @Option(names = "--samples", description = "Samples per round (default: ${DEFAULT-VALUE}).")
    int samples = 32;

    @Option(names = "--rate", description = "Samples per second sent by ingest; 0 = as fast as the broker takes them "
            + "(default: ${DEFAULT-VALUE}).")
    double rate = 0;

    @Option(names = "--eval-limit", description = "Held-out questions per domain for every evaluation (default: ${DEFAULT-VALUE}).")
    int evalLimit = 100;

    @Option(names = "--methods", description = "Methods calibrated side by side (default: ${DEFAULT-VALUE}).")
    String methods = "rtn,awq,mbq,qig";

    @Option(names = "--drift-rounds", description = "Consecutive rounds over a drift threshold that confirm a drift "
            + "(default: ${DEFAULT-VALUE}; the service's default is 2, one is enough for a demo of two rounds per domain).")
    int driftRounds = 1;

    @Option(names = "--seed", description = "Seed of the streamed samples (default: ${DEFAULT-VALUE}).")
    long seed = 2026;

    @Option(names = "--metrics-port", description = "Prometheus metrics and health endpoints: ingest on this port, the "
            + "attributor, aggregator, evaluator and publisher on the next four; 0 = free ports, -1 = none (default: ${DEFAULT-VALUE}, "
            + "the services' own defaults).")
    int metricsPort = 9401;

    @Option(names = "--requantize-policy", description = "The aggregator's requantize.policy: on-drift (calibrate once per "
            + "plan, again after a drift) or every-round (configs every round; shows how often the evaluator swaps "
            + "the active config) (default: ${DEFAULT-VALUE}).")
    String requantizePolicy = "on-drift";

    @Option(names = "--published-dir", description = "Folder the publisher commits checkpoints to (default: a new "
            + "temporary folder, named at the end and kept).")
    Path publishedDir;

    @Option(names = "--timeout-minutes", description = "Give up on a round after this long (default: ${DEFAULT-VALUE}).")
    int timeoutMinutes = 20;

    /** What a run produced, for the end-to-end test. */
    record Result(List<Row> rows, List<QuantConfig> configs, List<EvalResult> evaluations, List<ActiveConfig> promotions,
                  List<DriftEvent> driftEvents, Map<String, Long> deadLetters, long ingested, long attributed,
                  List<ModelPublished> published, Path publishedDir) {}

    Result result;

    /** Called with the services' metrics URLs at the end of a run, while they still serve (the end-to-end test scrapes them). */
    java.util.function.Consumer<Map<String, String>> beforeClose = urls -> { };

    @Override
    public Integer call() throws Exception {
        List<Domain> streamed = new ArrayList<>();
        for (String d : domains.split(",")) {
            streamed.add(Domain.parse(d.strip()));
        }
        if (roundsPerDomain < 1 || samples < 1 || evalLimit < 1 || rate < 0) {
            throw new IllegalArgumentException("--rounds-per-domain, --samples and --eval-limit must be positive, --rate not negative");
        }
        Set<Method> methodSet = EnumSet.copyOf(Method.parseList(methods));
        LocalPipeline.Options o = new LocalPipeline.Options();
        o.model = model.location;
        o.scheme = dev.qig.quant.QuantScheme.parse(scheme);
        o.methods = methodSet;
        o.roundSamples = samples;
        o.requantizePolicy = requantizePolicy;
        o.driftConsecutiveRounds = driftRounds;
        o.evaluator = true;
        o.evalDomains = streamed.stream().distinct().map(Domain::id).toList();
        o.evalQuestions = evalLimit;
        o.metricsPort = metricsPort;
        o.publishedDir = publishedDir != null ? publishedDir : Files.createTempDirectory("qig-published");
        // The demo's default scheme (w4a4) has no serving format: its checkpoint is published fake-quantized, labelled so.
        o.exportUnservable = "fake-quantize";
        int rounds = roundsPerDomain * streamed.size();
        long start = System.nanoTime();
        System.out.printf(Locale.ROOT, "qig demo: %s, %s; %d rounds of %d samples per domain x %d, methods %s, "
                        + "evaluation on %d held-out questions per domain%n", o.scheme.id(), domains, roundsPerDomain, samples,
                streamed.size(), methods, evalLimit);
        Duration timeout = Duration.ofMinutes(timeoutMinutes);
        try (LocalPipeline pipeline = LocalPipeline.start(o)) {
            System.out.printf(Locale.ROOT, "kafka %s (in this JVM), registry %s, model %s; services started in %.1f s "
                    + "(the evaluator measured full precision)%n", pipeline.bootstrapServers(), pipeline.registryUrl(),
                    pipeline.modelId(), seconds(start));
            System.out.println("round key " + pipeline.roundKey());
            if (!pipeline.metricsUrls().isEmpty()) {
                List<String> urls = new ArrayList<>();
                pipeline.metricsUrls().forEach((service, url) -> urls.add(service + " " + url));
                System.out.println("metrics (Prometheus; health at /health/live and /health/ready): " + String.join(", ", urls));
            }
            SyntheticWorld world = new SyntheticWorld();
            List<Row> rows = new ArrayList<>();
            long plan = 0;
            long attributedBefore = 0;
            for (int r = 1; r <= rounds; r++) {
                Domain domain = streamed.get((r - 1) / roundsPerDomain);
                List<VqaSample> batch = world.generate(domain, samples, seed + r);
                long roundStart = System.nanoTime();
                pipeline.ingest(batch, "qig-demo", rate);
                int round = r;
                long base = attributedBefore;
                ProgressLine progress = new ProgressLine(System.out);
                Runnable tick = () -> progress.show(() -> String.format(Locale.ROOT,
                        "round %d/%d (%s): attributed %d/%d, summed %d/%d | configs %d, evaluated %d, promoted %d, drift events %d",
                        round, rounds, domain.id(), pipeline.attributed() - base, samples, pipeline.roundProgress(), samples,
                        pipeline.watcher().allConfigs().size(), configsEvaluated(pipeline), pipeline.watcher().promotions().size(),
                        pipeline.watcher().driftEvents().size()));
                TopicWatcher.await(() -> pipeline.openRound() > round ? Boolean.TRUE : null, timeout, tick, "round " + r + " to close");
                attributedBefore = pipeline.attributed();
                // The round's outputs are committed with the aggregator's transaction, a moment after its stores change.
                RoundStatus.DriftStatus check = r == 1 ? null : TopicWatcher.await(() -> {
                    RoundStatus.DriftStatus c = pipeline.lastDriftCheck();
                    return c != null && c.round() == round ? c : null;
                }, timeout, tick, "the drift check of round " + r);
                long roundPlan = plan;
                String event;
                if (r == 1) {
                    plan = 1;
                    event = "statistics for plan 1";
                } else if (check.driftConfirmed()) {
                    DriftEvent drift = TopicWatcher.await(() -> pipeline.watcher().driftEvents().stream()
                            .filter(d -> d.getRound() == round).findFirst().orElse(null), timeout, tick, "the drift event of round " + r);
                    plan = drift.getNewPlanVersion() == null ? plan : drift.getNewPlanVersion();
                    event = "DRIFT (" + drift.getReason() + "): plan " + plan;
                } else {
                    event = "";
                }
                int searches = (int) methodSet.stream().filter(Method::searchesScales).count();
                Map<String, QuantConfig> configs = waitBriefly(() -> pipeline.watcher().configs(pipeline.roundKey(), round,
                        Math.max(1, searches)));
                if (configs != null && configs.size() < methodSet.size()) {
                    // A calibrating round's GPTQ configs come from its jobs, after the scale searches' configs.
                    configs = TopicWatcher.await(() -> pipeline.watcher().configs(pipeline.roundKey(), round,
                            methodSet.size()), timeout, tick, "the GPTQ configs of round " + r);
                }
                if (configs != null) {
                    event = (event.isEmpty() ? "" : event + "; ") + (round == 2 ? "calibrated" : "re-calibrated");
                }
                if (plan != roundPlan) {
                    long next = plan;
                    pipeline.awaitPlan(next, timeout, tick);
                }
                double s = seconds(roundStart);
                progress.done(String.format(Locale.ROOT, "round %d/%d (%s, plan %d): %d samples in %.1f s%s%s", r, rounds,
                        domain.id(), roundPlan, samples, s, r == 1 ? "" : checkText(check), event.isEmpty() ? "" : "; " + event));
                rows.add(new Row(r, domain, roundPlan, r == 1 ? null : check, event));
            }
            List<QuantConfig> all = pipeline.watcher().allConfigs();
            int expected = all.size() * o.evalDomains.size();
            ProgressLine progress = new ProgressLine(System.out);
            TopicWatcher.await(() -> configResults(pipeline).size() >= expected ? Boolean.TRUE : null, timeout,
                    () -> progress.show(() -> String.format(Locale.ROOT, "evaluating: %d of %d configs evaluated",
                            configsEvaluated(pipeline), all.size())), "the evaluation of every config");
            // The results carry the evaluator's decisions; the promotions they announce come on another topic, which
            // the watcher may read a moment later: wait until it has read every one of them.
            TopicWatcher.await(() -> {
                java.util.Set<String> seen = new java.util.HashSet<>();
                pipeline.watcher().promotions().forEach(a -> seen.add(a.getConfig().getConfigId()));
                return configResults(pipeline).stream().filter(r -> r.getDecision() != null
                        && r.getDecision().startsWith("promoted")).allMatch(r -> seen.contains(r.getConfigId())) ? Boolean.TRUE : null;
            }, timeout, () -> { }, "the promotions the evaluator decided");
            progress.done(String.format(Locale.ROOT, "all %d configs evaluated on %s", all.size(), o.evalDomains));
            List<String> promoted = pipeline.watcher().promotions().stream().map(a -> a.getConfig().getConfigId()).distinct().toList();
            TopicWatcher.await(() -> pipeline.watcher().published().stream().map(ModelPublished::getConfigId).toList()
                            .containsAll(promoted) ? Boolean.TRUE : null, timeout,
                    () -> progress.show(() -> String.format(Locale.ROOT, "publishing: %d of %d promoted configs published",
                            pipeline.watcher().published().size(), promoted.size())), "the publication of every promoted config");
            progress.done(String.format(Locale.ROOT, "promoted configs published to %s: %d", o.publishedDir, promoted.size()));
            System.out.println();
            System.out.println(table(rows, all, configResults(pipeline), pipeline.watcher().promotions(), methodSet));
            System.out.println(decisions(all, configResults(pipeline)));
            System.out.println(publishedTable(pipeline.watcher().published()));
            System.out.println("drift events: " + pipeline.watcher().driftEvents().size()
                    + "; dead letters: " + (pipeline.deadLetters().isEmpty() ? "none" : pipeline.deadLetters()));
            System.out.printf(Locale.ROOT, "done in %.1f s%n", seconds(start));
            result = new Result(rows, all, configResults(pipeline), pipeline.watcher().promotions(),
                    pipeline.watcher().driftEvents(), pipeline.deadLetters(), (long) rounds * samples, pipeline.attributed(),
                    pipeline.watcher().published(), o.publishedDir);
            beforeClose.accept(pipeline.metricsUrls());
        }
        return 0;
    }

    record Row(int round, Domain domain, long plan, RoundStatus.DriftStatus check, String event) {}

    /** Evaluation results of configs (not of the full-precision reference). */
    private static List<EvalResult> configResults(LocalPipeline pipeline) {
        return pipeline.watcher().evalResults().stream().filter(e -> !"fp32".equals(e.getMethod())).toList();
    }

    private static long configsEvaluated(LocalPipeline pipeline) {
        return configResults(pipeline).stream().map(EvalResult::getConfigId).distinct().count();
    }

    private static String checkText(RoundStatus.DriftStatus c) {
        if (c == null) {
            return "";
        }
        return String.format(Locale.ROOT, "; median group: %s regret %s, channel shift %.3f; vision shift %s", c.method(),
                c.medianRegret() == null ? "-" : String.format(Locale.ROOT, "%.3f", c.medianRegret()), c.medianMuShift(),
                c.visionShift() == null ? "-" : String.format(Locale.ROOT, "%.3f", c.visionShift()));
    }

    /**
     * Per round: the drift statistics and, per method, the config in force (the latest calibrated at
     * or before the round) evaluated on the round's domain: accuracy, its difference from full
     * precision, KL; and the config promoted among those calibrated by then.
     */
    static String table(List<Row> rows, List<QuantConfig> configs, List<EvalResult> results, List<ActiveConfig> promotions,
                        Set<Method> methods) {
        StringBuilder sb = new StringBuilder("| round | domain | plan | regret (qig, median group) | channel shift (median group) "
                + "| vision shift | event |");
        for (Method m : methods) {
            sb.append(' ').append(m.id()).append(": acc % (vs fp32), KL |");
        }
        sb.append(" promoted |\n|---:|---|---:|---:|---:|---:|---|");
        sb.append("---|".repeat(methods.size())).append("---|\n");
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "| %d | %s | %d | %s | %s | %s | %s |", r.round(), r.domain().id(), r.plan(),
                    r.check() == null || r.check().medianRegret() == null ? "" : String.format(Locale.ROOT, "%.3f", r.check().medianRegret()),
                    r.check() == null ? "" : String.format(Locale.ROOT, "%.3f", r.check().medianMuShift()),
                    r.check() == null || r.check().visionShift() == null ? ""
                            : String.format(Locale.ROOT, "%.3f", r.check().visionShift()), r.event()));
            for (Method m : methods) {
                QuantConfig inForce = null;
                for (QuantConfig c : configs) {
                    if (c.getMethod().equals(m.id()) && c.getRound() <= r.round()) {
                        inForce = c;
                    }
                }
                EvalResult e = null;
                if (inForce != null) {
                    String id = inForce.getConfigId();
                    e = results.stream().filter(x -> x.getConfigId().equals(id) && x.getDomain().equals(r.domain().id()))
                            .findFirst().orElse(null);
                }
                sb.append(' ').append(e == null ? "" : String.format(Locale.ROOT, "%.1f (%+.1f), %.1f", 100 * e.getAccuracy(),
                        e.getVsFullPrecision() == null ? Double.NaN : 100 * e.getVsFullPrecision().getAccuracyDifference(),
                        1000 * e.getKlToFullPrecision())).append(" |");
            }
            ActiveConfig active = null;
            for (ActiveConfig a : promotions) {
                if (a.getConfig().getRound() <= r.round()) {
                    active = a;
                }
            }
            sb.append(' ').append(active == null ? "" : active.getConfig().getMethod() + " of round " + active.getConfig().getRound())
                    .append(" |\n");
        }
        sb.append("\nKL: of the answer distribution to full precision, nats per answer token x 1000. A method's cells show the "
                + "config in force in that round (the latest calibrated), evaluated on the round's domain; promoted: the config "
                + "the evaluator promoted among those calibrated by the end of the round.\n");
        return sb.toString();
    }

    /** The evaluator's decision on every config, in the order calibrated. */
    private static String decisions(List<QuantConfig> configs, List<EvalResult> results) {
        StringBuilder sb = new StringBuilder("evaluator decisions (paired tests over every evaluated domain; for a config "
                + "calibrated after a drift, over the domains of the drifted round):\n");
        for (QuantConfig c : configs) {
            String decision = results.stream().filter(e -> e.getConfigId().equals(c.getConfigId()) && e.getDecision() != null)
                    .map(EvalResult::getDecision).findFirst().orElse("not evaluated");
            sb.append("  ").append(c.getConfigId()).append(": ").append(decision).append('\n');
        }
        return sb.toString();
    }

    /** What the publisher committed, one line per ModelPublished event: the checkpoint and where it is. */
    static String publishedTable(List<ModelPublished> published) {
        StringBuilder sb = new StringBuilder("published checkpoints (qig.published-models.v1):\n");
        sb.append("| config | format | files | MB | content hash | location |\n|---|---|---:|---:|---|---|\n");
        for (ModelPublished m : published) {
            sb.append(String.format(Locale.ROOT, "| %s | %s | %d | %.2f | %s | %s |%n", m.getConfigId(), m.getFormat(),
                    m.getFiles().size(), m.getTotalBytes() / 1e6, m.getContentHash(), m.getLocation()));
        }
        if (published.stream().anyMatch(m -> "fake-quantized".equals(m.getFormat()))) {
            sb.append("fake-quantized: the scheme has no serving format, so the checkpoint holds float32 weights on its grid "
                    + "(for evaluation; --scheme w4a16 or w8a8 publishes what vLLM loads).\n");
        }
        return sb.toString();
    }

    /** Polls for up to two seconds (what is committed with a round lands within the commit interval). */
    private static <T> T waitBriefly(java.util.function.Supplier<T> value) throws InterruptedException {
        long deadline = System.nanoTime() + 2_000_000_000L;
        while (System.nanoTime() < deadline) {
            T v = value.get();
            if (v != null) {
                return v;
            }
            Thread.sleep(100);
        }
        return null;
    }

    private static double seconds(long since) {
        return (System.nanoTime() - since) / 1e9;
    }
}
