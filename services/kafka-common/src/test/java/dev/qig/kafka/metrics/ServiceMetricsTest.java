package dev.qig.kafka.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** The metrics endpoint in the Prometheus text format, and the health endpoints' answers. */
class ServiceMetricsTest {

    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @Test
    void servesCountersAndHistogramsInTheTextFormat() throws Exception {
        try (ServiceMetrics m = ServiceMetrics.create("test")) {
            Counter c = Counter.builder().name("qig_things_total").help("Things.").labelNames("kind").register(m.registry());
            c.labelValues("a").inc(2);
            c.labelValues("b").inc();
            Histogram h = Histogram.builder().name("qig_work_seconds").help("Work.").classicOnly()
                    .classicUpperBounds(0.1, 1, 10).register(m.registry());
            h.observe(0.5);
            h.observe(5);
            m.deadLettered("corrupt-avro");
            int port = m.serve(0);
            assertTrue(port > 0);

            HttpResponse<String> r = get(m.metricsUrl());
            assertEquals(200, r.statusCode());
            assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"), r.headers().toString());
            assertEquals(java.util.List.of(), PromLint.problems(r.body()), "promtool's rules, JVM metrics included");
            PrometheusText text = PrometheusText.parse(r.body());
            assertEquals("counter", text.types().get("qig_things_total"));
            assertEquals(2.0, text.series("qig_things_total", l -> "a".equals(l.get("kind"))).get(0).value());
            assertEquals(3.0, text.sum("qig_things_total"));
            assertEquals("histogram", text.types().get("qig_work_seconds"));
            assertEquals(0.0, bucket(text, "0.1"));
            assertEquals(1.0, bucket(text, "1.0"));
            assertEquals(2.0, bucket(text, "+Inf"));
            assertEquals(2.0, text.sum("qig_work_seconds_count"));
            assertEquals(5.5, text.sum("qig_work_seconds_sum"), 1e-9);
            assertEquals(1.0, text.sum("qig_dead_letters_total"));
            assertEquals(1.0, text.series("qig_dead_letters_total", l -> "corrupt-avro".equals(l.get("reason"))).get(0).value());
            assertEquals(0.0, text.series("qig_dead_letters_total", l -> "missing_image".equals(l.get("reason"))).get(0).value(),
                    "every reason has a series from the start");
            assertEquals(Map.of("corrupt-avro", 1L), m.deadLettersByReason());
            assertEquals("test", text.series("qig_service_info").get(0).label("service"));
            // The JVM's metrics are there too.
            assertTrue(text.names().contains("jvm_memory_used_bytes"), text.names().toString());
            assertTrue(text.names().contains("jvm_threads_current"), text.names().toString());
        }
    }

    @Test
    void healthEndpointsAnswer200Or503() throws Exception {
        AtomicBoolean ready = new AtomicBoolean();
        AtomicBoolean live = new AtomicBoolean(true);
        try (ServiceMetrics m = ServiceMetrics.withoutJvm("test")) {
            m.serve(0);
            String base = m.baseUrl();
            assertEquals(200, get(base + ServiceMetrics.LIVE_PATH).statusCode());
            assertEquals(503, get(base + ServiceMetrics.READY_PATH).statusCode(), "not ready before a readiness check is set");
            m.readiness(ready::get);
            m.liveness(live::get);
            assertEquals(503, get(base + ServiceMetrics.READY_PATH).statusCode());
            ready.set(true);
            assertEquals(200, get(base + ServiceMetrics.READY_PATH).statusCode());
            live.set(false);
            assertEquals(503, get(base + ServiceMetrics.LIVE_PATH).statusCode());
            m.readiness(() -> {
                throw new IllegalStateException("a failing check is a failed check");
            });
            assertEquals(503, get(base + ServiceMetrics.READY_PATH).statusCode());
            assertEquals(404, get(base + "/nothing").statusCode());
        }
    }

    @Test
    void noServerBelowZeroAndTheParserRefusesGarbage() throws IOException {
        try (ServiceMetrics m = ServiceMetrics.withoutJvm("test")) {
            assertEquals(-1, m.serve(-1));
            assertEquals(-1, m.port());
            assertEquals(null, m.metricsUrl());
        }
        assertThrows(IllegalArgumentException.class, () -> PrometheusText.parse("qig_x{a=\"1\" 2\n"));
        assertThrows(IllegalArgumentException.class, () -> PrometheusText.parse("qig_x two\n"));
        PrometheusText ok = PrometheusText.parse("# TYPE qig_x gauge\nqig_x{a=\"q\\\"\\n\",b=\"\"} -1.5e3 1700000000\n");
        assertEquals(List.of(new PrometheusText.Sample("qig_x", Map.of("a", "q\"\n", "b", ""), -1500.0)), ok.samples());
        assertFalse(ok.names().isEmpty());
    }

    private static double bucket(PrometheusText text, String le) {
        return text.series("qig_work_seconds_bucket", l -> le.equals(l.get("le"))).get(0).value();
    }

    static HttpResponse<String> get(String url) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }
}
