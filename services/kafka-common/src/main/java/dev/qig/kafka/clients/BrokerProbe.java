package dev.qig.kafka.clients;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;

/**
 * Whether the Kafka cluster answers: every {@code interval} an admin client asks it for its cluster
 * id, and the broker counts as reachable while the last answer is at most {@code stale} old. What a
 * service's readiness needs besides its own state: a consumer polling an unreachable cluster, or a
 * Kafka Streams instance in RUNNING, would otherwise report ready through a broker outage.
 */
public final class BrokerProbe implements AutoCloseable {

    private final Admin admin;
    private final ScheduledExecutorService timer;
    private final long staleNanos;
    private final Duration interval;
    private volatile long lastAnswer;
    private volatile boolean answered;
    private volatile String lastError = "not asked yet";
    private final java.util.concurrent.CompletableFuture<FatalKafkaException> fatal =
            new java.util.concurrent.CompletableFuture<>();

    private BrokerProbe(Map<String, Object> clientProperties, Duration interval, Duration stale, String name) {
        Map<String, Object> props = new HashMap<>(clientProperties);
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, name + "-broker-probe");
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) interval.toMillis());
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) interval.toMillis());
        this.admin = Admin.create(props);
        this.interval = interval;
        this.staleNanos = stale.toNanos();
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, name + "-broker-probe");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(this::ask, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** A probe asking every 5 s, stale after 15 s (three unanswered rounds). */
    public static BrokerProbe start(Map<String, Object> clientProperties, String name) {
        return start(clientProperties, Duration.ofSeconds(5), Duration.ofSeconds(15), name);
    }

    public static BrokerProbe start(Map<String, Object> clientProperties, Duration interval, Duration stale, String name) {
        return new BrokerProbe(clientProperties, interval, stale, name);
    }

    private void ask() {
        try {
            admin.describeCluster(new DescribeClusterOptions().timeoutMs((int) interval.toMillis())).clusterId()
                    .get(interval.toMillis() * 2, TimeUnit.MILLISECONDS);
            lastAnswer = System.nanoTime();
            answered = true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            lastError = e.getCause() != null ? e.getCause().toString() : e.toString();
            FatalKafkaException.in(e).ifPresent(f -> {
                if (fatal.complete(f)) {
                    timer.shutdown(); // asking again cannot help
                }
            });
        }
    }

    /**
     * Completes with the first failure retrying cannot fix (wrong credentials, a failed TLS
     * handshake); the probe stops asking then, and the broker stays unreachable for readiness.
     */
    public java.util.concurrent.CompletionStage<FatalKafkaException> fatal() {
        return fatal.minimalCompletionStage();
    }

    /** True while the cluster's last answer is recent enough. */
    public boolean reachable() {
        return answered && System.nanoTime() - lastAnswer <= staleNanos;
    }

    /** Why the last question went unanswered, for logs. */
    public String lastError() {
        return lastError;
    }

    @Override
    public void close() {
        timer.shutdownNow();
        admin.close(Duration.ofSeconds(2));
    }
}
