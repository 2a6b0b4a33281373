package dev.qig.app.pipeline;

import dev.qig.app.Dashboards;
import dev.qig.app.QigCommand;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.kafka.metrics.PrometheusText;
import dev.qig.kafka.metrics.ServiceMetrics;
import dev.qig.schemas.DriftEvent;
import dev.qig.schemas.EvalResult;
import dev.qig.schemas.QuantConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code qig demo} with small sizes, end to end on a real in-process broker with the shipped model:
 * a drift is confirmed after the domain switch (not before), the configs of every method are
 * evaluated on both domains, something is promoted, and every sample streamed is accounted for.
 */
class DemoEndToEndTest {

    @Test
    void theDemoDetectsTheDomainSwitchReQuantizesAndEvaluatesEveryConfig() throws Exception {
        CommandLine cmd = QigCommand.commandLine();
        // Every service's endpoints, scraped at the end of the run while the services still serve.
        Map<String, PrometheusText> scraped = new TreeMap<>();
        Map<String, String> raw = new TreeMap<>();
        Map<String, List<Integer>> health = new TreeMap<>();
        DemoCommand demo = (DemoCommand) cmd.getSubcommands().get("demo").getCommandSpec().userObject();
        demo.beforeClose = urls -> urls.forEach((service, url) -> {
            String text = get(url).body();
            raw.put(service, text);
            scraped.put(service, PrometheusText.parse(text));
            String base = url.substring(0, url.length() - ServiceMetrics.METRICS_PATH.length());
            health.put(service, List.of(get(base + ServiceMetrics.LIVE_PATH).statusCode(),
                    get(base + ServiceMetrics.READY_PATH).statusCode()));
        });
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream saved = System.out;
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            code = cmd.execute("demo", "--samples", "16", "--rounds-per-domain", "2", "--eval-limit", "20",
                    "--domains", "clean,cluttered", "--metrics-port", "0");
        } finally {
            System.setOut(saved);
        }
        String printed = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, printed);
        DemoCommand.Result r = ((DemoCommand) cmd.getSubcommands().get("demo").getCommandSpec().userObject()).result;

        // Every sample streamed was attributed and summed: every round closed by count, nothing dead-lettered.
        assertEquals(4, r.rows().size());
        assertEquals(r.ingested(), r.attributed(), printed);
        assertTrue(r.deadLetters().isEmpty(), "dead letters: " + r.deadLetters());

        // Drift: confirmed after the switch to cluttered (round 3 on), never while clean streamed.
        assertTrue(!r.driftEvents().isEmpty(), "no drift event:\n" + printed);
        for (DriftEvent d : r.driftEvents()) {
            assertTrue(d.getRound() >= 3, "a drift confirmed in round " + d.getRound() + " while clean streamed:\n" + printed);
            assertTrue(d.getDomains().containsKey("cluttered"), "the drifted round holds cluttered samples");
        }

        // The initial calibration and the re-calibration after the drift, every method each time.
        Set<Long> calibrationRounds = r.configs().stream().map(QuantConfig::getRound).collect(Collectors.toSet());
        assertTrue(calibrationRounds.contains(2L), "initial calibration in round 2: " + calibrationRounds);
        assertTrue(calibrationRounds.stream().anyMatch(x -> x > r.driftEvents().get(0).getRound()),
                "re-calibration after the drift: " + calibrationRounds);
        for (long round : calibrationRounds) {
            Set<String> methods = r.configs().stream().filter(c -> c.getRound() == round).map(QuantConfig::getMethod)
                    .collect(Collectors.toSet());
            assertEquals(Set.of("rtn", "awq", "mbq", "qig"), methods, "round " + round);
        }

        // Every config evaluated on both domains, with sensible numbers and a paired comparison.
        Set<String> evaluated = new HashSet<>();
        for (EvalResult e : r.evaluations()) {
            evaluated.add(e.getConfigId() + "@" + e.getDomain());
            assertTrue(e.getAccuracy() >= 0 && e.getAccuracy() <= 1, "accuracy in [0, 1]");
            assertTrue(e.getKlToFullPrecision() >= 0 && Double.isFinite(e.getKlToFullPrecision()), "finite, non-negative KL");
            assertEquals(20, e.getQuestions());
            assertTrue(e.getVsFullPrecision() != null, "paired comparison with full precision");
        }
        for (QuantConfig c : r.configs()) {
            for (String domain : List.of("clean", "cluttered")) {
                assertTrue(evaluated.contains(c.getConfigId() + "@" + domain), c.getConfigId() + " on " + domain);
            }
        }
        // Configs calibrated after the drift are judged on the traffic now served; the first ones on everything evaluated.
        long driftRound = r.driftEvents().get(0).getRound();
        for (QuantConfig c : r.configs()) {
            String decision = r.evaluations().stream().filter(e -> e.getConfigId().equals(c.getConfigId()) && e.getDecision() != null)
                    .map(EvalResult::getDecision).findFirst().orElseThrow();
            assertEquals(c.getRound() > driftRound, "drift".equals(c.getProvenance().get("planReason")), c.getConfigId());
            assertEquals(c.getRound() > driftRound, decision.contains("judged on the questions of cluttered"), decision);
        }
        assertTrue(!r.promotions().isEmpty(), "a config was promoted:\n" + printed);
        assertTrue(printed.contains("| round | domain | plan |"), "the final table is printed");

        // Every promoted config became exactly one complete checkpoint in the folder store, announced once.
        Set<String> promoted = new TreeSet<>();
        r.promotions().forEach(a -> promoted.add(a.getConfig().getConfigId()));
        List<String> announced = r.published().stream().map(m -> m.getConfigId()).sorted().toList();
        assertEquals(List.copyOf(promoted), announced, "one ModelPublished per promoted config:\n" + printed);
        for (var m : r.published()) {
            assertEquals("fake-quantized", m.getFormat(), "w4a4 has no serving format; the demo publishes it labelled");
            java.nio.file.Path dir = java.nio.file.Path.of(m.getLocation());
            assertTrue(dir.startsWith(r.publishedDir()), m.getLocation());
            assertTrue(java.nio.file.Files.isRegularFile(dir.resolve("qig-manifest.json")), "committed with its manifest");
            for (var f : m.getFiles()) {
                assertEquals(f.getSize(), java.nio.file.Files.size(dir.resolve(f.getPath())), f.getPath());
            }
            assertTrue(printed.contains(m.getLocation()), "the final table names where it is published");
        }

        checkMetrics(r, scraped, raw, health, printed);
    }

    /** The services' metrics agree with what the run did, and every dashboard query names an exported metric. */
    private static void checkMetrics(DemoCommand.Result r, Map<String, PrometheusText> scraped, Map<String, String> raw,
                                     Map<String, List<Integer>> health, String printed) throws Exception {
        Path dump = Path.of("target", "demo-metrics");
        Files.createDirectories(dump);
        for (Map.Entry<String, String> e : raw.entrySet()) {
            Files.writeString(dump.resolve(e.getKey() + ".txt"), e.getValue());
        }
        assertEquals(Set.of("ingest", "attributor", "aggregator", "evaluator", "publisher"), scraped.keySet(), printed);
        assertTrue(printed.contains("metrics (Prometheus"), "the demo prints the metrics URLs:\n" + printed);
        for (Map.Entry<String, PrometheusText> e : scraped.entrySet()) {
            PrometheusText t = e.getValue();
            assertEquals(List.of(200, 200), health.get(e.getKey()), e.getKey() + ": live and ready");
            // promtool's rules on every service's scrape, as a Prometheus operator would run them.
            assertEquals(List.of(), dev.qig.kafka.metrics.PromLint.problems(raw.get(e.getKey())), e.getKey());
            assertEquals(e.getKey(), t.series("qig_service_info").get(0).label("service"));
            assertTrue(t.sum("jvm_memory_used_bytes") > 0, e.getKey() + ": JVM metrics");
            assertTrue(t.names().contains("jvm_threads_current"), e.getKey() + ": JVM metrics");
            Map<String, Set<String>> values = new TreeMap<>();
            for (PrometheusText.Sample s : t.samples()) {
                assertTrue(s.name().startsWith("qig_") || s.name().startsWith("jvm_") || s.name().startsWith("process_"),
                        e.getKey() + ": unprefixed " + s.name());
                s.labels().forEach((k, v) -> values.computeIfAbsent(s.name() + "/" + k, x -> new TreeSet<>()).add(v));
            }
            // Bounded labels: no label takes a value per sample (64 samples were streamed).
            values.forEach((k, v) -> assertTrue(v.size() < r.ingested(), e.getKey() + ": " + k + " has " + v.size() + " values"));
        }
        double streamed = r.ingested();
        PrometheusText ingest = scraped.get("ingest");
        assertEquals(streamed, ingest.sum("qig_samples_ingested_total"));
        assertEquals(0.0, ingest.sum("qig_dead_letters_total"));

        PrometheusText attributor = scraped.get("attributor");
        assertEquals(streamed, attributor.sum("qig_samples_consumed_total"));
        assertEquals(streamed, attributor.sum("qig_samples_attributed_total"));
        assertTrue(attributor.sum("qig_attribution_seconds_count") >= 4, "an engine pass per batch at least");
        assertTrue(attributor.sum("qig_attribution_seconds_sum") > 0);
        assertTrue(attributor.sum("qig_ig_points_total") > 0, "QIG's integrated gradients ran");
        assertTrue(attributor.series("qig_ig_points_per_second").stream().allMatch(s -> s.value() > 0));
        Map<String, Double> shareSums = new TreeMap<>();
        for (PrometheusText.Sample s : attributor.series("qig_token_attribution_share")) {
            assertTrue(s.value() >= 0 && s.value() <= 1 + 1e-6, "a share in [0, 1]: " + s);
            shareSums.merge(s.label("layer") + "/" + s.label("group"), s.value(), Double::sum);
        }
        assertEquals(12, shareSums.size(), "every group of the 4-layer model: " + shareSums.keySet());
        shareSums.forEach((g, sum) -> assertEquals(1.0, sum, 1e-4, "the modalities' shares of " + g + " add up to 1"));
        assertTrue(attributor.series("qig_token_attribution_share", l -> "vision".equals(l.get("modality")))
                .stream().anyMatch(s -> s.value() > 0), "vision tokens carry weight");
        assertFalse(attributor.series("qig_kafka_consumer_fetch_manager_records_lag_max").isEmpty(), "consumer lag");

        PrometheusText aggregator = scraped.get("aggregator");
        assertEquals(streamed, aggregator.sum("qig_samples_summed_total"));
        assertEquals(4.0, aggregator.sum("qig_rounds_closed_total"), "four rounds closed");
        assertEquals(5.0, aggregator.sum("qig_round_number"), "round 5 open");
        assertEquals(0.0, aggregator.sum("qig_round_samples"));
        assertEquals(r.driftEvents().size(), aggregator.sum("qig_drift_events_total"));
        assertTrue(aggregator.sum("qig_drift_events_total") >= 1, "a drift counted");
        assertEquals(r.configs().size(), aggregator.sum("qig_configs_emitted_total"));
        assertEquals(1 + r.driftEvents().size(), aggregator.sum("qig_plans_published_total"),
                "plan 1 after the statistics round, then one per drift");
        assertTrue(aggregator.series("qig_drift_channel_shift", l -> "median".equals(l.get("stat"))).get(0).value() > 0);
        assertFalse(aggregator.series("qig_kafka_stream_thread_process_total").isEmpty(), "Kafka Streams' thread metrics");
        assertTrue(aggregator.sum("qig_kafka_stream_thread_process_total") >= streamed, "records processed");
        assertFalse(aggregator.series("qig_kafka_consumer_fetch_manager_records_lag_max").isEmpty(), "the stream's lag");

        PrometheusText evaluator = scraped.get("evaluator");
        Set<String> cells = new TreeSet<>();
        for (PrometheusText.Sample s : evaluator.series("qig_evaluation_accuracy")) {
            assertTrue(s.value() >= 0 && s.value() <= 1, "accuracy in [0, 1]: " + s);
            cells.add(s.label("method") + "@" + s.label("domain"));
        }
        for (String m : List.of("fp32", "rtn", "awq", "mbq", "qig")) {
            assertTrue(cells.contains(m + "@clean") && cells.contains(m + "@cluttered"), m + " on both domains: " + cells);
        }
        for (PrometheusText.Sample s : evaluator.series("qig_evaluation_kl_to_full_precision")) {
            assertTrue(s.value() >= 0 && Double.isFinite(s.value()), "KL: " + s);
        }
        List<PrometheusText.Sample> vsFp = evaluator.series("qig_paired_accuracy_difference", l -> "fp32".equals(l.get("against")));
        assertEquals(8, vsFp.size(), "four methods on two domains against fp32");
        vsFp.forEach(s -> assertTrue(s.value() >= -1 && s.value() <= 1, s.toString()));
        assertEquals(r.configs().size(), evaluator.sum("qig_configs_evaluated_total"));
        assertEquals(r.promotions().size(), evaluator.sum("qig_promotions_total"));
        assertTrue(evaluator.sum("qig_promotions_total") >= 1);
        List<PrometheusText.Sample> alphas = evaluator.series("qig_active_config_alpha");
        alphas.forEach(a -> assertTrue(a.value() >= 0 && a.value() <= 1, "alpha in [0, 1]: " + a));
        assertEquals(alphas.size(), alphas.stream().map(a -> a.label("layer") + "/" + a.label("group")).distinct().count());
        assertEquals(alphas.size(), evaluator.series("qig_active_config_reconstruction_loss").size());
        assertTrue(alphas.isEmpty() == "rtn".equals(evaluator.series("qig_active_config_round").get(0).label("method")),
                "alphas per group unless RTN is active: " + alphas);
        assertFalse(evaluator.series("qig_active_config_round").isEmpty(), "an active config");
        assertFalse(evaluator.series("qig_kafka_consumer_fetch_manager_records_lag_max").isEmpty(), "consumer lag");

        PrometheusText publisher = scraped.get("publisher");
        assertEquals(r.published().size(), publisher.sum("qig_publisher_published_total"));
        assertEquals(r.published().stream().mapToLong(m -> m.getTotalBytes()).sum(), publisher.sum("qig_publisher_bytes_total"));
        assertEquals(0.0, publisher.sum("qig_publisher_failures_total"));

        // Every dashboard query reads metrics that the services export.
        Set<String> exported = new TreeSet<>();
        scraped.values().forEach(t -> exported.addAll(t.names()));
        for (Map.Entry<String, com.fasterxml.jackson.databind.JsonNode> d : Dashboards.load().entrySet()) {
            for (String q : Dashboards.queries(d.getValue())) {
                for (String name : Dashboards.metricNames(q)) {
                    assertTrue(exported.contains(name), d.getKey() + ": " + name + " in '" + q + "' is not exported");
                }
            }
        }
    }

    private static java.net.http.HttpResponse<String> get(String url) {
        try {
            return java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create(url)).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
