package dev.qig.kafka.metrics;

import com.sun.net.httpserver.HttpExchange;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Info;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The metrics and health of one service: its own Prometheus registry (the service's metrics, the
 * JVM's, and {@code qig_service_info}), and an HTTP server on the service's {@code metrics.port}
 * with
 * <ul>
 *   <li>{@value #METRICS_PATH}: the registry in the Prometheus text format (or OpenMetrics or
 *       protobuf, as the scraper asks);</li>
 *   <li>{@value #LIVE_PATH}: 200 while the service is alive, 503 when it has failed for good
 *       (restart it);</li>
 *   <li>{@value #READY_PATH}: 200 once the service does its work (models loaded, consumers polling,
 *       stream threads running), 503 before and after.</li>
 * </ul>
 * Every service has its own registry, so that several services in one JVM ({@code qig demo}) are
 * scraped separately, each with the JVM's metrics.
 */
public final class ServiceMetrics implements AutoCloseable {

    public static final String METRICS_PATH = "/metrics";
    public static final String LIVE_PATH = "/health/live";
    public static final String READY_PATH = "/health/ready";

    private static final Logger LOG = LoggerFactory.getLogger(ServiceMetrics.class);

    private final String service;
    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final Counter deadLetters;
    private volatile BooleanSupplier live = () -> true;
    private volatile BooleanSupplier ready = () -> false;
    private dev.qig.kafka.clients.BrokerProbe probe;
    private final java.util.concurrent.CompletableFuture<dev.qig.kafka.clients.FatalKafkaException> fatalKafkaError =
            new java.util.concurrent.CompletableFuture<>();
    private HTTPServer server;

    private ServiceMetrics(String service, boolean jvm) {
        this.service = Objects.requireNonNull(service, "service");
        if (jvm) {
            JvmMetrics.builder().register(registry);
        }
        Info info = Info.builder().name("qig_service_info").help("The service this endpoint belongs to.")
                .labelNames("service").register(registry);
        info.addLabelValues(service);
        deadLetters = Counter.builder().name("qig_dead_letters_total")
                .help("Records this service wrote to the dead-letter topic, by reason (qig.errors.reason).")
                .labelNames("reason").register(registry);
        for (dev.qig.kafka.dlq.RejectReason r : dev.qig.kafka.dlq.RejectReason.values()) {
            deadLetters.initLabelValues(r.id()); // every reason at 0, so that rates and dashboards have a series
        }
    }

    /** A registry for {@code service} with the JVM's metrics; not served until {@link #serve}. */
    public static ServiceMetrics create(String service) {
        return new ServiceMetrics(service, true);
    }

    /** A registry without the JVM's metrics (unit tests, and services built without a server). */
    public static ServiceMetrics withoutJvm(String service) {
        return new ServiceMetrics(service, false);
    }

    public String service() {
        return service;
    }

    public PrometheusRegistry registry() {
        return registry;
    }

    /** Counts one record sent to the dead-letter topic. */
    public void deadLettered(String reason) {
        deadLetters.labelValues(reason).inc();
    }

    /** Dead letters written so far, by reason (reasons without any left out). */
    public Map<String, Long> deadLettersByReason() {
        Map<String, Long> out = new TreeMap<>();
        deadLetters.collect().getDataPoints().forEach(p -> {
            if (p.getValue() > 0) {
                out.put(p.getLabels().get("reason"), (long) p.getValue());
            }
        });
        return out;
    }

    /** The sum of a counter over all its labels. */
    public static double sum(Counter counter) {
        return counter.collect().getDataPoints().stream().mapToDouble(p -> p.getValue()).sum();
    }

    /** What {@value #LIVE_PATH} answers; true until set. */
    public void liveness(BooleanSupplier live) {
        this.live = Objects.requireNonNull(live, "live");
    }

    /** What {@value #READY_PATH} answers; false until set. */
    public void readiness(BooleanSupplier ready) {
        this.ready = Objects.requireNonNull(ready, "ready");
    }

    /**
     * From now on readiness also needs the Kafka cluster to answer (a {@link
     * dev.qig.kafka.clients.BrokerProbe} with the service's client settings, closed with this); the
     * gauge {@code qig_broker_reachable} shows the probe's view (1 or 0). Call it after
     * {@link #readiness}.
     */
    public synchronized void watchBroker(Map<String, Object> kafkaClientProperties) {
        if (probe != null) {
            return;
        }
        dev.qig.kafka.clients.BrokerProbe probe = dev.qig.kafka.clients.BrokerProbe.start(kafkaClientProperties, "qig-" + service);
        this.probe = probe;
        BooleanSupplier own = ready;
        this.ready = () -> own.getAsBoolean() && probe.reachable();
        probe.fatal().thenAccept(fatalKafkaError::complete);
        io.prometheus.metrics.core.metrics.GaugeWithCallback.builder().name("qig_broker_reachable")
                .help("1 while the Kafka cluster answered the service's probe within the last 15 s, else 0 (readiness needs it).")
                .callback(cb -> cb.call(probe.reachable() ? 1 : 0)).register(registry);
    }

    /**
     * Completes when the broker probe meets a failure retrying cannot fix (wrong credentials, a failed
     * TLS handshake): the service cannot work until someone changes its settings, and a command
     * running it ends then ({@code qig SERVICE}); readiness is false from that moment.
     */
    public java.util.concurrent.CompletionStage<dev.qig.kafka.clients.FatalKafkaException> fatalKafkaError() {
        return fatalKafkaError.minimalCompletionStage();
    }

    public boolean isLive() {
        return ask(live);
    }

    public boolean isReady() {
        return ask(ready);
    }

    /**
     * Starts the HTTP server on {@code port} (0: a free port; below 0: none) and returns the port it
     * listens on, or -1. Calling it again while serving returns the current port.
     */
    public synchronized int serve(int port) throws IOException {
        if (server != null) {
            return server.getPort();
        }
        if (port < 0) {
            return -1;
        }
        server = HTTPServer.builder()
                .port(port)
                .registry(registry)
                .defaultHandler(this::handle)
                .buildAndStart();
        LOG.info("{}: metrics on http://localhost:{}{} (health {}, {})", service, server.getPort(), METRICS_PATH,
                LIVE_PATH, READY_PATH);
        return server.getPort();
    }

    /** The port served, or -1. */
    public synchronized int port() {
        return server == null ? -1 : server.getPort();
    }

    /** {@code http://localhost:PORT/metrics}, or null when not served. */
    public String metricsUrl() {
        int p = port();
        return p < 0 ? null : "http://localhost:" + p + METRICS_PATH;
    }

    /** {@code http://localhost:PORT}, or null when not served. */
    public String baseUrl() {
        int p = port();
        return p < 0 ? null : "http://localhost:" + p;
    }

    /** Stops the HTTP server and the broker probe; the registry stays readable. */
    @Override
    public synchronized void close() {
        if (server != null) {
            server.close();
            server = null;
        }
        if (probe != null) {
            probe.close();
        }
    }

    /** Every path the metrics handler does not take: the health checks, an index, or 404. */
    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getPath();
            switch (path) {
                case LIVE_PATH -> reply(exchange, isLive() ? 200 : 503, isLive() ? "live\n" : "not live\n");
                case READY_PATH -> reply(exchange, isReady() ? 200 : 503, isReady() ? "ready\n" : "not ready\n");
                case "/", "" -> reply(exchange, 200, "qig " + service + ": " + METRICS_PATH + " " + LIVE_PATH + " "
                        + READY_PATH + "\n");
                default -> reply(exchange, 404, "not found: " + path + "\n");
            }
        }
    }

    private static void reply(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        boolean head = "HEAD".equalsIgnoreCase(exchange.getRequestMethod());
        exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
        if (!head) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }

    private static boolean ask(BooleanSupplier s) {
        try {
            return s.getAsBoolean();
        } catch (RuntimeException e) {
            return false;
        }
    }
}
