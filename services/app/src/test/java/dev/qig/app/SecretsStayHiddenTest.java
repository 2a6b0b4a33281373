package dev.qig.app;

import dev.qig.server.ServiceCommands;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.qig.aggregator.Aggregator;
import dev.qig.aggregator.AggregatorConfig;
import dev.qig.attributor.Attributor;
import dev.qig.attributor.AttributorConfig;
import dev.qig.evaluator.Evaluator;
import dev.qig.evaluator.EvaluatorConfig;
import dev.qig.ingest.Ingest;
import dev.qig.ingest.IngestConfig;
import dev.qig.kafka.config.ConfigSources;
import dev.qig.kafka.embedded.EmbeddedKafka;
import dev.qig.kafka.metrics.ServiceMetrics;
import dev.qig.kafka.registry.SchemaRegistries;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/**
 * Kafka client secrets ({@code sasl.jaas.config}, {@code ssl.*.password}) and registry credentials
 * ({@code basic.auth.user.info}, {@code bearer.auth.token}, {@code schema.registry.ssl.truststore.password}) given as {@code QIG_*} variables, as the
 * deployment files give them, reach the clients but never the logs (at INFO, where Kafka prints every
 * client's configuration), the standard output, the metrics exposition, the health checks or the
 * aggregator's HTTP endpoint, nor an error message of the command line. Every service runs on the
 * in-process broker with them.
 */
class SecretsStayHiddenTest {

    private static final String JAAS_SECRET = "jaas-S3cret-7f1e";
    private static final String USER_INFO_SECRET = "userinfo-S3cret-90ad";
    private static final String TOKEN_SECRET = "bearer-S3cret-5c2b";
    private static final String SSL_SECRET = "ssl-S3cret-41d0";
    private static final String REGISTRY_TLS_SECRET = "registry-tls-S3cret-b7c3";
    private static final List<String> SECRETS = List.of(JAAS_SECRET, USER_INFO_SECRET, TOKEN_SECRET, SSL_SECRET,
            REGISTRY_TLS_SECRET);

    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @TempDir
    Path dir;

    /** The environment of a deployment: the broker, the mock registry, and the secrets (PLAINTEXT: SASL is not used). */
    private static Map<String, String> environment(String bootstrap, Path stateDir) {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("QIG_BOOTSTRAP_SERVERS", bootstrap);
        env.put("QIG_SCHEMA_REGISTRY_URL", "mock://secrets-test");
        env.put("QIG_SECURITY_PROTOCOL", "PLAINTEXT");
        env.put("QIG_SASL_MECHANISM", "PLAIN");
        env.put("QIG_SASL_JAAS_CONFIG", "org.apache.kafka.common.security.plain.PlainLoginModule required "
                + "username=\"qig\" password=\"" + JAAS_SECRET + "\";");
        env.put("QIG_SSL_TRUSTSTORE_PASSWORD", SSL_SECRET);
        env.put("QIG_BASIC_AUTH_CREDENTIALS_SOURCE", "USER_INFO");
        env.put("QIG_BASIC_AUTH_USER_INFO", "qig:" + USER_INFO_SECRET);
        env.put("QIG_BEARER_AUTH_TOKEN", TOKEN_SECRET);
        env.put("QIG_SCHEMA_REGISTRY_SSL_TRUSTSTORE_PASSWORD", REGISTRY_TLS_SECRET);
        env.put("QIG_METRICS_PORT", "0");
        env.put("QIG_TOPICS_PARTITIONS", "1");
        env.put("QIG_TOPICS_REPLICATION_FACTOR", "1");
        env.put("QIG_STATE_DIR", stateDir.toString());
        return env;
    }

    @Test
    void secretsReachTheClientsButNoLogMetricOrEndpoint() throws Exception {
        // Run in a JVM of its own that logs at INFO (services/app/pom.xml, execution logs-at-info); skipped
        // where -Dtest selects it for the default JVM too, which logs at WARN.
        assumeTrue(Boolean.getBoolean("qig.test.logs.info"), "needs the JVM of the logs-at-info execution");
        assertTrue(LoggerFactory.getLogger("org.apache.kafka.clients").isInfoEnabled(),
                "the test needs INFO logging, where the Kafka clients print their configuration");
        List<String> seen = new ArrayList<>();
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream savedOut = System.out;
        PrintStream savedErr = System.err;
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            Map<String, String> env = environment(kafka.bootstrapServers(), dir.resolve("streams"));
            System.setOut(new PrintStream(tee(captured, savedOut), true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(tee(captured, savedErr), true, StandardCharsets.UTF_8));

            // The configs hand the secrets on: to the Kafka clients, and to the registry client only.
            AggregatorConfig aggregatorConfig = new AggregatorConfig(with(ConfigSources.resolve(AggregatorConfig.definition(),
                    AggregatorConfig.streamsKeys(), null, env, Map.of()), "http.port", "0", "round.samples", "2",
                    "commit.interval.ms", "100"));
            assertTrue(aggregatorConfig.kafkaClientProperties().get("sasl.jaas.config").toString().contains(JAAS_SECRET));
            assertFalse(aggregatorConfig.kafkaClientProperties().containsKey("basic.auth.user.info"));
            assertEquals("qig:" + USER_INFO_SECRET, aggregatorConfig.registryProperties().get("basic.auth.user.info"));
            assertEquals(REGISTRY_TLS_SECRET, aggregatorConfig.registryProperties().get("schema.registry.ssl.truststore.password"));
            assertEquals(dir.resolve("streams").toString(), aggregatorConfig.kafkaClientProperties().get("state.dir"));

            // One environment for every service, as the app reads it: another service's variables are ignored.
            java.util.Set<String> others = ServiceCommands.ConfigCommand.allKeys();
            AttributorConfig attributorConfig = new AttributorConfig(with(ConfigSources.resolve(AttributorConfig.definition(),
                    List.of(), others, null, env, Map.of()), "methods", "rtn,awq", "batch.size", "2", "batch.linger.ms", "50"));
            EvaluatorConfig evaluatorConfig = new EvaluatorConfig(with(ConfigSources.resolve(EvaluatorConfig.definition(),
                    List.of(), others, null, env, Map.of()), "eval.domains", "clean", "eval.questions.per.domain", "4"));
            IngestConfig ingestConfig = new IngestConfig(with(ConfigSources.resolve(IngestConfig.definition(), List.of(),
                    others, null, env, Map.of()), "synthetic.schedule", "clean:2"));

            // What the command line prints of a service's settings, and of a bad one, with the secrets set.
            seen.add(run("config", "aggregator"));
            seen.add(run("aggregator", "--set", "bootstrap.servers=" + kafka.bootstrapServers(),
                    "--set", "schema.registry.url=mock://secrets-test", "--set", "sasl.jaas.config=" + env.get("QIG_SASL_JAAS_CONFIG"),
                    "--set", "basic.auth.user.info=qig:" + USER_INFO_SECRET, "--set", "round.samples=0"));
            seen.add(run("topics", "--set", "bootstrap.servers=" + kafka.bootstrapServers(),
                    "--set", "sasl.jaas.config=" + env.get("QIG_SASL_JAAS_CONFIG"), "--set", "schema.registry.url=mock://x",
                    "--set", "topics.partitions=1", "--set", "topics.replication.factor=1"));
            assertTrue(seen.get(2).contains("qig.calibration-samples.v1: 1 partitions"), seen.get(2));

            try (Aggregator aggregator = new Aggregator(aggregatorConfig, SchemaRegistries.create(aggregatorConfig.registryProperties()));
                 Attributor attributor = new Attributor(attributorConfig, SchemaRegistries.create(attributorConfig.registryProperties()));
                 Evaluator evaluator = new Evaluator(evaluatorConfig, SchemaRegistries.create(evaluatorConfig.registryProperties()))) {
                aggregator.start();
                attributor.start();
                evaluator.start();
                Ingest.Summary sent;
                try (Ingest ingest = new Ingest(ingestConfig, SchemaRegistries.create(ingestConfig.registryProperties()))) {
                    sent = ingest.run();
                    seen.addAll(endpoints(ingest.metrics().service()));
                }
                assertEquals(2, sent.samplesSent());
                await(() -> aggregator.isRunning() && attributor.metrics().isReady() && evaluator.metrics().isReady(),
                        "every service ready");
                await(() -> attributor.stats().attributed() >= 2, "the samples attributed");
                await(() -> aggregator.rounds().stream().anyMatch(r -> r.round() >= 2), "the first round closed");
                for (ServiceMetrics m : List.of(aggregator.metrics(), attributor.metrics(), evaluator.metrics())) {
                    seen.addAll(endpoints(m));
                }
                String http = "http://localhost:" + aggregator.httpPort();
                for (String path : List.of("/rounds", "/plans", "/configs", "/health")) {
                    seen.add(get(http + path).body());
                }
                assertTrue(seen.get(seen.size() - 4).contains("roundKey"), "the rounds endpoint serves rounds");
            }
            // A registry client with credentials that cannot reach its server: the failure names no credential.
            Map<String, Object> registry = new HashMap<>(Map.of("schema.registry.url", "http://qig:" + USER_INFO_SECRET
                    + "@127.0.0.1:1/apis/ccompat/v7", "http.connect.timeout.ms", "500"));
            try {
                SchemaRegistries.create(registry).schemaById(1);
            } catch (RuntimeException e) {
                seen.add(e.toString());
                seen.add(SchemaRegistries.create(registry).toString());
            }
        } finally {
            System.setOut(savedOut);
            System.setErr(savedErr);
        }
        String logs = captured.toString(StandardCharsets.UTF_8);
        assertTrue(logs.contains("sasl.jaas.config = [hidden]"), "the Kafka clients logged their configuration, masked");
        for (String secret : SECRETS) {
            assertFalse(logs.contains(secret), "a secret in the logs:\n" + around(logs, secret));
            for (String text : seen) {
                assertFalse(text.contains(secret), "a secret in an output:\n" + around(text, secret));
            }
        }
    }

    private static Map<String, String> with(Map<String, String> settings, String... keyValues) {
        Map<String, String> out = new LinkedHashMap<>(settings);
        for (int i = 0; i < keyValues.length; i += 2) {
            out.put(keyValues[i], keyValues[i + 1]);
        }
        return out;
    }

    /** The command line's standard output and error of one command. */
    private static String run(String... args) {
        CommandLine cmd = QigCommand.commandLine();
        StringWriter out = new StringWriter();
        cmd.setOut(new PrintWriter(out));
        cmd.setErr(new PrintWriter(out));
        int code = cmd.execute(args);
        return code + "\n" + out;
    }

    /** /metrics, /health/live and /health/ready of a service. */
    private static List<String> endpoints(ServiceMetrics m) {
        List<String> out = new ArrayList<>();
        for (String path : List.of(ServiceMetrics.METRICS_PATH, ServiceMetrics.LIVE_PATH, ServiceMetrics.READY_PATH)) {
            out.add(get(m.baseUrl() + path).body());
        }
        assertTrue(out.get(0).contains("qig_"), "a metrics exposition of " + m.service());
        return out;
    }

    private static HttpResponse<String> get(String url) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (Exception e) {
            throw new AssertionError("GET " + url + ": " + e, e);
        }
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(100);
        }
    }

    private static OutputStream tee(OutputStream a, OutputStream b) {
        return new OutputStream() {
            @Override
            public synchronized void write(int c) throws java.io.IOException {
                a.write(c);
                b.write(c);
            }

            @Override
            public synchronized void write(byte[] bytes, int off, int len) throws java.io.IOException {
                a.write(bytes, off, len);
                b.write(bytes, off, len);
            }
        };
    }

    private static String around(String text, String secret) {
        int i = text.indexOf(secret);
        return text.substring(Math.max(0, i - 400), Math.min(text.length(), i + 200));
    }
}
