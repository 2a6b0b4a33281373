package dev.qig.publisher;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.kafka.embedded.EmbeddedKafka;
import dev.qig.kafka.metrics.ServiceMetrics;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * A service's readiness follows the Kafka cluster: ready while its own state is and the broker
 * answers, not ready within seconds of the broker going away (the finding: /health/ready stayed 200
 * through a 60 s broker outage), and the gauge qig_broker_reachable says why.
 */
class ReadinessFollowsTheBrokerTest {

    @Test
    void readinessIsFalseWhileTheBrokerDoesNotAnswer() throws Exception {
        ServiceMetrics metrics = ServiceMetrics.withoutJvm("probe-test");
        try {
            EmbeddedKafka kafka = EmbeddedKafka.start();
            try {
                metrics.readiness(() -> true);
                metrics.watchBroker(Map.of("bootstrap.servers", kafka.bootstrapServers()));
                await(metrics::isReady, 30, "ready once the broker answered");
                assertTrue(reachable(metrics) == 1.0);
            } finally {
                kafka.close();
            }
            await(() -> !metrics.isReady(), 60, "not ready once the broker stopped answering");
            assertTrue(reachable(metrics) == 0.0);
        } finally {
            metrics.close();
        }
    }

    private static double reachable(ServiceMetrics metrics) {
        return metrics.registry().scrape().stream().filter(s -> s.getMetadata().getPrometheusName().equals("qig_broker_reachable"))
                .flatMap(s -> s.getDataPoints().stream())
                .mapToDouble(p -> ((io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot) p).getValue())
                .findFirst().orElse(Double.NaN);
    }

    private static void await(BooleanSupplier condition, int seconds, String what) throws InterruptedException {
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, what + " within " + seconds + " s");
            Thread.sleep(200);
        }
    }
}
