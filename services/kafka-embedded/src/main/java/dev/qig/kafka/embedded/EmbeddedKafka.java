package dev.qig.kafka.embedded;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;

/**
 * A real Kafka broker in this JVM: one KRaft node that is both broker and controller, listening on
 * 127.0.0.1, with its log in a temporary directory. For tests and single-process runs ({@code qig
 * stream}, {@code qig demo}); services talk to it over the network exactly as to any cluster.
 *
 * <p>A single node needs every internal topic's replication factor at 1 (consumer offsets,
 * transaction state, share-group state), or consumer groups and exactly-once producers hang. Uses
 * the broker's own server classes, which are internal to Kafka and may change between minor
 * versions.
 */
public final class EmbeddedKafka implements AutoCloseable {

    private final Path dir;
    private final boolean ownsDir;
    private final int port;
    private KafkaRaftServer server;

    private EmbeddedKafka(Path dir, boolean ownsDir, int port) {
        this.dir = dir;
        this.ownsDir = ownsDir;
        this.port = port;
    }

    /** Formats a fresh log directory in a temporary folder and starts the broker; returns when it answers. */
    public static EmbeddedKafka start() {
        return start(Map.of());
    }

    /** As {@link #start()}, with broker properties that override the defaults (e.g. {@code num.partitions}). */
    public static EmbeddedKafka start(Map<String, String> overrides) {
        try {
            EmbeddedKafka kafka = new EmbeddedKafka(Files.createTempDirectory("qig-kafka"), true, freePort());
            kafka.startServer(overrides);
            return kafka;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the embedded Kafka broker", e);
        }
    }

    private void startServer(Map<String, String> overrides) throws IOException {
        int controllerPort = freePort();
        Properties p = new Properties();
        p.put("process.roles", "broker,controller");
        p.put("node.id", "1");
        p.put("controller.quorum.bootstrap.servers", "127.0.0.1:" + controllerPort);
        p.put("listeners", "PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort);
        p.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + port);
        p.put("controller.listener.names", "CONTROLLER");
        p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.put("log.dirs", dir.resolve("log").toString());
        p.put("offsets.topic.replication.factor", "1");
        p.put("offsets.topic.num.partitions", "4");
        p.put("transaction.state.log.replication.factor", "1");
        p.put("transaction.state.log.min.isr", "1");
        p.put("transaction.state.log.num.partitions", "4");
        p.put("share.coordinator.state.topic.replication.factor", "1");
        p.put("share.coordinator.state.topic.min.isr", "1");
        p.put("group.initial.rebalance.delay.ms", "0");
        p.put("num.partitions", "4");
        p.put("auto.create.topics.enable", "false");
        p.putAll(overrides);
        Path file = dir.resolve("server.properties");
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            p.store(w, "qig-stream embedded broker");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int rc = StorageTool.execute(new String[] {"format", "-t", Uuid.randomUuid().toString(), "-c", file.toString(),
            "--standalone"}, new PrintStream(out, true, StandardCharsets.UTF_8));
        if (rc != 0) {
            throw new IllegalStateException("kafka-storage format failed (" + rc + "): " + out.toString(StandardCharsets.UTF_8));
        }
        server = new KafkaRaftServer(new KafkaConfig(p, true), Time.SYSTEM);
        server.startup();
        awaitReady();
    }

    private void awaitReady() {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers()))) {
            admin.describeCluster().nodes().get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            close();
            throw new IllegalStateException("the embedded Kafka broker did not come up", e);
        }
    }

    /** {@code 127.0.0.1:<port>}. */
    public String bootstrapServers() {
        return "127.0.0.1:" + port;
    }

    /** Stops the broker and deletes its log directory. */
    @Override
    public void close() {
        if (server != null) {
            server.shutdown();
            server.awaitShutdown();
            server = null;
        }
        if (ownsDir) {
            deleteRecursively(dir);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static void deleteRecursively(Path root) {
        try (var paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // A temporary directory left behind is not worth failing a shutdown for.
        }
    }
}
