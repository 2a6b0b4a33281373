package dev.qig.kafka.metrics;

import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.PrometheusNaming;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;

/**
 * Kafka's own client metrics (consumers, producers, Kafka Streams) in a Prometheus registry, read
 * at scrape time from the clients' {@code metrics()} maps (thread-safe in every Kafka client).
 *
 * <p>Names: {@code qig_kafka_<group>_<name>} with Kafka's group less its {@code -metrics} suffix,
 * dashes as underscores: {@code consumer-fetch-manager-metrics/records-lag-max} becomes
 * {@code qig_kafka_consumer_fetch_manager_records_lag_max}. A Kafka metric whose name ends in
 * {@code -total} is a cumulative count and becomes a counter ({@code ..._total}); all others are
 * gauges, in Kafka's units (the name says which: {@code _ms}, {@code _rate} per second, ...).
 * Labels: Kafka's tags ({@code client-id}, {@code thread-id}, {@code task-id}, {@code topic},
 * {@code partition}), dashes as underscores; all bounded by the clients, threads, tasks and
 * partitions of the process. Values that are not numbers (version strings, states) are left out.
 */
public final class KafkaClientMetrics implements MultiCollector {

    /** Consumer lag, fetch and group metrics: the groups a plain consumer is watched by. */
    public static final Predicate<MetricName> CONSUMER = n -> n.group().equals("consumer-fetch-manager-metrics")
            || n.group().equals("consumer-coordinator-metrics");
    /**
     * Kafka Streams' client, thread and task metrics, and its consumers' lag and fetch metrics (not
     * the per-store RocksDB and per-node metrics: over a thousand series for little use).
     */
    public static final Predicate<MetricName> STREAMS = n -> n.group().equals("stream-metrics")
            || n.group().equals("stream-thread-metrics") || n.group().equals("stream-task-metrics") || CONSUMER.test(n);

    private static final String PREFIX = "qig_kafka_";

    private final Predicate<MetricName> filter;
    private final Map<String, Supplier<Map<MetricName, ? extends Metric>>> clients = new ConcurrentHashMap<>();

    public KafkaClientMetrics(Predicate<MetricName> filter) {
        this.filter = filter;
    }

    /** Adds (or replaces) a client under an id of the caller's choice. */
    public void add(String id, Supplier<Map<MetricName, ? extends Metric>> metrics) {
        clients.put(id, metrics);
    }

    public void remove(String id) {
        clients.remove(id);
    }

    @Override
    public MetricSnapshots collect() {
        // name -> (labels -> value); one family per name, the first client to name a series wins.
        Map<String, Family> families = new TreeMap<>();
        for (Supplier<Map<MetricName, ? extends Metric>> client : clients.values()) {
            Map<MetricName, ? extends Metric> metrics;
            try {
                metrics = client.get();
            } catch (RuntimeException e) {
                continue; // a client being closed
            }
            if (metrics == null) {
                continue;
            }
            for (Map.Entry<MetricName, ? extends Metric> e : metrics.entrySet()) {
                MetricName n = e.getKey();
                if (!filter.test(n)) {
                    continue;
                }
                Object v;
                try {
                    v = e.getValue().metricValue();
                } catch (RuntimeException ex) {
                    continue;
                }
                if (!(v instanceof Number number)) {
                    continue;
                }
                boolean counter = n.name().endsWith("-total");
                String kafkaName = counter ? n.name().substring(0, n.name().length() - "-total".length()) : n.name();
                double scale = unitScale(kafkaName);
                String name = prometheusName(n.group(), kafkaName, counter);
                Family f = families.computeIfAbsent(name, k -> new Family(counter, n.description()));
                if (f.counter != counter) {
                    continue; // a gauge and a counter of one name: keep the first
                }
                Labels labels = labels(n.tags());
                f.points.putIfAbsent(labels, number.doubleValue() * scale);
            }
        }
        List<MetricSnapshot> out = new ArrayList<>();
        families.forEach((name, f) -> {
            if (f.counter) {
                CounterSnapshot.Builder b = CounterSnapshot.builder().name(name).help(help(f.help));
                f.points.forEach((l, v) -> {
                    if (v >= 0 && !Double.isNaN(v)) {
                        b.dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder().labels(l).value(v).build());
                    }
                });
                out.add(b.build());
            } else {
                GaugeSnapshot.Builder b = GaugeSnapshot.builder().name(name).help(help(f.help));
                // Kafka reports NaN where nothing is measured (a restore consumer's lag with nothing to restore):
                // no point rather than a NaN that turns a dashboard's max() into NaN.
                f.points.forEach((l, v) -> {
                    if (!Double.isNaN(v)) {
                        b.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(l).value(v).build());
                    }
                });
                out.add(b.build());
            }
        });
        return new MetricSnapshots(out);
    }

    /**
     * The Prometheus name of a Kafka metric (without the {@code _total} of counters), in Prometheus'
     * conventions as promtool checks them: an abbreviated time unit ({@code -ns}, {@code -us},
     * {@code -ms}) becomes {@code seconds} (the value is scaled, {@link #unitScale}), and a gauge does
     * not end in {@code _count} (reserved for histograms and summaries): {@code active-buffer-count}
     * is {@code active_buffer_number}.
     */
    static String prometheusName(String group, String name, boolean counter) {
        String g = group.endsWith("-metrics") ? group.substring(0, group.length() - "-metrics".length()) : group;
        List<String> parts = new ArrayList<>(List.of(name.split("-")));
        parts.replaceAll(p -> TIME_UNITS.containsKey(p) ? "seconds" : p);
        if (!counter && parts.size() > 1 && parts.get(parts.size() - 1).equals("count")) {
            parts.set(parts.size() - 1, "number");
        }
        return PrometheusNaming.sanitizeMetricName(PREFIX + (g + "_" + String.join("_", parts)).replace('-', '_')
                .replace('.', '_'));
    }

    /** Kafka's abbreviated time units in metric names, and what a value in them is in seconds. */
    private static final Map<String, Double> TIME_UNITS = Map.of("ns", 1e-9, "us", 1e-6, "ms", 1e-3);

    /** The factor that turns a metric's value into base units (seconds for a {@code -ns}, {@code -us} or {@code -ms} name). */
    static double unitScale(String name) {
        for (String p : name.split("-")) {
            Double s = TIME_UNITS.get(p);
            if (s != null) {
                return s;
            }
        }
        return 1.0;
    }

    private static Labels labels(Map<String, String> tags) {
        Labels.Builder b = Labels.builder();
        new TreeMap<>(tags).forEach((k, v) -> b.label(PrometheusNaming.sanitizeLabelName(k.replace('-', '_')), v == null ? "" : v));
        return b.build();
    }

    private static String help(String kafkaDescription) {
        return kafkaDescription == null || kafkaDescription.isBlank() ? "Kafka client metric." : "Kafka: " + kafkaDescription;
    }

    private static final class Family {
        final boolean counter;
        final String help;
        final Map<Labels, Double> points = new LinkedHashMap<>();

        Family(boolean counter, String help) {
            this.counter = counter;
            this.help = help;
        }
    }
}
