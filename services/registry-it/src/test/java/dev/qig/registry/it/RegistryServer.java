package dev.qig.registry.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.extension.ExtensionContext;

import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The real schema registry of the integration tests: registry-server's runner jar (Apicurio
 * Registry 2.4.2.Final, in memory) started as a child process on a free loopback port, once per
 * test JVM, and stopped when the test run ends (JUnit's root store) or, failing that, when the JVM
 * exits. Its output goes to {@code target/registry-server.log}. A missing jar or a server that
 * does not come up fails the tests: they never skip.
 */
final class RegistryServer implements ExtensionContext.Store.CloseableResource {

    /** Under 15 s on an idle 2-core machine; a loaded one has taken 25 s. */
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(Long.getLong("qig.registry.ready.seconds", 180));
    private static final String CCOMPAT = "/apis/ccompat/v7";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Process process;
    private final int port;
    private final Path log;
    private final Duration startup;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    private RegistryServer(Process process, int port, Path log, Duration startup) {
        this.process = process;
        this.port = port;
        this.log = log;
        this.startup = startup;
    }

    /** The one server of this test run, started by the first test class that asks. */
    static RegistryServer shared(ExtensionContext context) {
        return context.getRoot().getStore(ExtensionContext.Namespace.GLOBAL)
                .getOrComputeIfAbsent(RegistryServer.class, k -> start(), RegistryServer.class);
    }

    /** The Confluent-compatible API's base URL, the value of {@code schema.registry.url}. */
    String url() {
        return "http://127.0.0.1:" + port + CCOMPAT;
    }

    Duration startup() {
        return startup;
    }

    static RegistryServer start() {
        Path jar = Path.of(required("qig.registry.runner"));
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("registry-server's runner jar is missing: " + jar
                    + " (build it with: mvn -B package -pl registry-server -am)");
        }
        Path log = Path.of(required("qig.registry.log"));
        IllegalStateException failure = null;
        // A free port can be taken between the probe and the server's bind: then try another.
        for (int attempt = 1; attempt <= 3; attempt++) {
            try {
                return startOnce(jar, log, freePort(), attempt);
            } catch (PortTakenException e) {
                failure = e;
            }
        }
        throw failure;
    }

    private static RegistryServer startOnce(Path jar, Path log, int port, int attempt) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java,
                "-Xmx256m",
                // Start-up is mostly class loading and CDI wiring: C1 alone gets there sooner on 2 cores.
                "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC",
                "-jar", jar.toString()));
        ProcessBuilder builder = new ProcessBuilder(command)
                .directory(jar.getParent().toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        builder.environment().put("HTTP_PORT", Integer.toString(port));
        builder.environment().put("QUARKUS_HTTP_HOST", "127.0.0.1");
        long started = System.nanoTime();
        Process process;
        try {
            Files.createDirectories(log.getParent());
            Files.writeString(log, "=== attempt " + attempt + ": " + String.join(" ", command) + " (HTTP_PORT=" + port + ")\n",
                    StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            process = builder.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the registry server " + jar, e);
        }
        RegistryServer server = new RegistryServer(process, port, log, Duration.ZERO);
        Thread stopAtExit = new Thread(server::stop, "registry-server-stop");
        Runtime.getRuntime().addShutdownHook(stopAtExit);
        long deadline = started + READY_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                String tail = server.logTail();
                if (tail.contains("Port already bound") || tail.contains("Address already in use")) {
                    throw new PortTakenException("registry port " + port + " was taken");
                }
                throw new IllegalStateException("the registry server exited with code " + process.exitValue()
                        + " before it was ready; log " + log + ":\n" + tail);
            }
            if (server.answers()) {
                Duration startup = Duration.ofNanos(System.nanoTime() - started);
                System.out.printf("registry server ready at %s after %.1f s (log %s)%n", server.url(),
                        startup.toMillis() / 1000.0, log);
                return new RegistryServer(process, port, log, startup);
            }
            sleep(250);
        }
        server.stop();
        throw new IllegalStateException("the registry server did not answer within " + READY_TIMEOUT.toSeconds()
                + " s; log " + log + ":\n" + server.logTail());
    }

    private boolean answers() {
        try {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(url() + "/subjects"))
                    .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString());
            return response.statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the registry server", e);
        }
    }

    /** Sets the compatibility level of {@code subject} (not an operation of the project's client). */
    void setCompatibility(String subject, String level) {
        send("PUT", "/config/" + subject, Map.of("compatibility", level));
    }

    /** Sends a JSON request to the ccompat API and returns the answer's body; fails on a non-2xx status. */
    String send(String method, String path, Object body) {
        try {
            HttpRequest.BodyPublisher publisher = body == null ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body));
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(url() + path))
                    .timeout(Duration.ofSeconds(30))
                    .header("Content-Type", "application/vnd.schemaregistry.v1+json")
                    .method(method, publisher).build(), HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() / 100 != 2) {
                throw new IllegalStateException(method + " " + path + ": HTTP " + response.statusCode() + ": " + response.body());
            }
            return response.body();
        } catch (IOException e) {
            throw new UncheckedIOException(method + " " + path + " failed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private String logTail() {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(log unreadable: " + e + ")";
        }
    }

    private void stop() {
        if (!process.isAlive()) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        stop();
    }

    private static String required(String property) {
        String value = System.getProperty(property);
        if (value == null || value.isBlank()) {
            throw new IllegalStateException("system property " + property + " is not set (surefire sets it in services/registry-it/pom.xml)");
        }
        return value;
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free port", e);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the registry server", e);
        }
    }

    private static final class PortTakenException extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        PortTakenException(String message) {
            super(message);
        }
    }
}
