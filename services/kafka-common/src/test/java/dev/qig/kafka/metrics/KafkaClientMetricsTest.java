package dev.qig.kafka.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.metrics.Gauge;
import org.apache.kafka.common.metrics.Metrics;
import org.apache.kafka.common.metrics.Sensor;
import org.apache.kafka.common.metrics.stats.CumulativeSum;
import org.apache.kafka.common.metrics.stats.Max;
import org.junit.jupiter.api.Test;

/** Kafka client metrics bridged into a Prometheus registry: names, types, labels, filter. */
class KafkaClientMetricsTest {

    @Test
    void bridgesKafkaMetricsAsCountersAndGaugesWithTagsAsLabels() throws Exception {
        try (Metrics kafka = new Metrics()) {
            Map<String, String> tags = Map.of("client-id", "c1");
            Sensor lag = kafka.sensor("lag");
            lag.add(kafka.metricName("records-lag-max", "consumer-fetch-manager-metrics", "max lag", tags), new Max());
            lag.record(7);
            lag.record(3);
            Sensor consumed = kafka.sensor("consumed");
            consumed.add(kafka.metricName("records-consumed-total", "consumer-fetch-manager-metrics", "consumed", tags),
                    new CumulativeSum());
            consumed.record(5);
            consumed.record(6);
            kafka.addMetric(kafka.metricName("version", "consumer-fetch-manager-metrics", "a string", tags),
                    (Gauge<String>) (config, now) -> "4.4.0");
            kafka.addMetric(kafka.metricName("io-ratio", "consumer-metrics", "filtered out", tags),
                    (Gauge<Double>) (config, now) -> 0.5);
            Sensor blocked = kafka.sensor("blocked");
            blocked.add(kafka.metricName("blocked-time-ns-total", "consumer-fetch-manager-metrics", "ns blocked", tags),
                    new CumulativeSum());
            blocked.record(2.5e9);
            kafka.addMetric(kafka.metricName("active-buffer-count", "consumer-fetch-manager-metrics", "buffered", tags),
                    (Gauge<Integer>) (config, now) -> 3);
            kafka.addMetric(kafka.metricName("records-lag-max", "consumer-fetch-manager-metrics", "no partitions",
                    Map.of("client-id", "restore")), (Gauge<Double>) (config, now) -> Double.NaN);

            KafkaClientMetrics bridge = new KafkaClientMetrics(KafkaClientMetrics.CONSUMER);
            bridge.add("c1", kafka::metrics);
            PrometheusRegistry registry = new PrometheusRegistry();
            registry.register(bridge);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            PrometheusTextFormatWriter.create().write(out, registry.scrape());
            PrometheusText text = PrometheusText.parse(out.toString(StandardCharsets.UTF_8));

            assertEquals("gauge", text.types().get("qig_kafka_consumer_fetch_manager_records_lag_max"));
            assertEquals(7.0, text.series("qig_kafka_consumer_fetch_manager_records_lag_max").get(0).value());
            assertEquals(1, text.series("qig_kafka_consumer_fetch_manager_records_lag_max").size(),
                    "a NaN (nothing measured) is no point");
            assertEquals("c1", text.series("qig_kafka_consumer_fetch_manager_records_lag_max").get(0).label("client_id"));
            assertEquals("counter", text.types().get("qig_kafka_consumer_fetch_manager_records_consumed_total"));
            assertEquals(11.0, text.sum("qig_kafka_consumer_fetch_manager_records_consumed_total"));
            assertFalse(text.names().stream().anyMatch(n -> n.contains("version")), "strings are left out: " + text.names());
            assertFalse(text.names().stream().anyMatch(n -> n.contains("io_ratio")), "the filter applies: " + text.names());
            // Prometheus' conventions, as promtool checks them: base units, no _count on a gauge.
            assertEquals(2.5, text.sum("qig_kafka_consumer_fetch_manager_blocked_time_seconds_total"), 1e-12);
            assertEquals(3.0, text.sum("qig_kafka_consumer_fetch_manager_active_buffer_number"));
            assertEquals(List.of(), PromLint.problems(out.toString(StandardCharsets.UTF_8)));
            assertFalse(PromLint.problems("# HELP x_ns_total t\n# TYPE x_ns_total counter\nx_ns_total 1\n"
                    + "# HELP y_count t\n# TYPE y_count gauge\ny_count 1\n").isEmpty(), "the rules do flag both");

            bridge.remove("c1");
            assertTrue(registry.scrape().stream().allMatch(s -> s.getDataPoints().isEmpty()));
        }
    }
}
