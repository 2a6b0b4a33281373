package dev.qig.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.kafka.embedded.EmbeddedKafka;
import dev.qig.kafka.testing.ChildJvm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every service, run as the image runs it ({@code qig-server.jar SERVICE} in its own JVM) against a real
 * SASL_SSL broker with a wrong password or left on PLAINTEXT: it ends within 30 s, exit code 3, its
 * last line naming the cause. Kafka's clients alone retried such a client for minutes (or ran out of
 * memory reading a TLS alert as a response size).
 */
class MisconfiguredSecurityTest {

    private static EmbeddedKafka kafka;

    @TempDir
    static Path dir;

    @BeforeAll
    static void start() {
        kafka = EmbeddedKafka.startSaslSsl("qig", "right-secret");
    }

    @AfterAll
    static void stop() {
        kafka.close();
    }

    static Stream<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (String service : List.of("topics", "ingest", "attributor", "aggregator", "evaluator", "publisher")) {
            cases.add(Arguments.of(service, "wrong-password"));
            cases.add(Arguments.of(service, "plaintext"));
        }
        // Without topic creation the first client to fail was a consumer, and the attributor said nothing for 2 min.
        cases.add(Arguments.of("attributor", "wrong-password, topics.create=false"));
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("cases")
    void endsPromptlyNamingTheCause(String service, String misconfiguration) throws Exception {
        List<String> args = new ArrayList<>(List.of(service, "--set", "bootstrap.servers=" + kafka.bootstrapServers()));
        args.addAll(List.of("--set", "schema.registry.url=mock://security-" + service));
        if (misconfiguration.startsWith("wrong-password")) {
            kafka.saslSsl().clientProperties("wrong-secret").forEach((k, v) -> args.addAll(List.of("--set", k + "=" + v)));
        }
        if (!service.equals("topics")) {
            args.addAll(List.of("--set", "metrics.port=-1", "--set", "topics.create=" + !misconfiguration.endsWith("false")));
        }
        switch (service) {
            case "ingest" -> args.addAll(List.of("--set", "synthetic.schedule=clean:4"));
            case "aggregator" -> args.addAll(List.of("--set", "http.port=-1", "--set",
                    "state.dir=" + dir.resolve("state-" + misconfiguration.replaceAll("[^a-z]+", "-"))));
            case "publisher" -> args.addAll(List.of("--set", "store.folder.path=" + dir.resolve("published")));
            default -> { }
        }
        Path log = dir.resolve(service + "-" + misconfiguration.replaceAll("[^a-z]+", "-") + ".log");
        long start = System.nanoTime();
        Process child = ChildJvm.start(ServerCommand.class, log, List.of(), args.toArray(String[]::new));
        boolean ended = child.waitFor(60, TimeUnit.SECONDS);
        double seconds = (System.nanoTime() - start) / 1e9;
        if (!ended) {
            child.destroyForcibly();
        }
        String output = Files.readString(log);
        assertTrue(ended, service + " still running after 60 s:\n" + output);
        assertEquals(ServiceCommands.EXIT_KAFKA_MISCONFIGURED, child.exitValue(), output);
        assertTrue(seconds < 30, service + " took " + seconds + " s to end:\n" + output);
        String expected = misconfiguration.equals("plaintext") ? "speaks TLS, but security.protocol=PLAINTEXT"
                : "Kafka authentication failed";
        List<String> ours = output.lines().filter(l -> l.startsWith("qig " + service + ": ")).toList();
        assertEquals(1, ours.size(), "one line of ours:\n" + output);
        assertTrue(ours.get(0).contains(expected), ours.get(0));
        assertTrue(!output.contains("right-secret") && !output.contains("wrong-secret"), "a password in the output:\n" + output);
        System.out.printf("%s, %s: ended in %.1f s: %s%n", service, misconfiguration, seconds, ours.get(0));
    }

}
