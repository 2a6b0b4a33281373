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
    /** Set when the client listener is SASL_SSL: its user, password and trust store. */
    private SaslSsl saslSsl;
    /** A PLAINTEXT listener for the broker itself (inter-broker traffic, readiness) when clients get SASL_SSL. */
    private int internalPort = -1;
    private KafkaRaftServer server;

    private EmbeddedKafka(Path dir, boolean ownsDir, int port) {
        this.dir = dir;
        this.ownsDir = ownsDir;
        this.port = port;
    }

    /** The secured client listener's user (SCRAM-SHA-512), its password and the trust store of the broker's certificate. */
    public record SaslSsl(String user, String password, Path trustStore, String trustStorePassword) {

        /** Client settings for this listener with {@code password} (the right one or not). */
        public Map<String, String> clientProperties(String password) {
            return Map.of("security.protocol", "SASL_SSL",
                    "sasl.mechanism", "SCRAM-SHA-512",
                    "sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
                            + user + "\" password=\"" + password + "\";",
                    "ssl.truststore.location", trustStore.toString(),
                    "ssl.truststore.type", "PKCS12",
                    "ssl.truststore.password", trustStorePassword);
        }
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

    /**
     * A broker whose client listener speaks SASL_SSL (TLS with a self-signed certificate for
     * 127.0.0.1, SCRAM-SHA-512 with one user), as a secured production cluster does; for the tests of
     * what a misconfigured client does. The broker's own traffic uses a PLAINTEXT listener.
     */
    public static EmbeddedKafka startSaslSsl(String user, String password) {
        try {
            EmbeddedKafka kafka = new EmbeddedKafka(Files.createTempDirectory("qig-kafka"), true, freePort());
            kafka.internalPort = freePort();
            kafka.saslSsl = new SaslSsl(user, password, kafka.dir.resolve("truststore.p12"), "truststore-secret");
            kafka.startServer(Map.of());
            return kafka;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the embedded Kafka broker", e);
        }
    }

    /** The secured listener's settings, or null when clients get PLAINTEXT. */
    public SaslSsl saslSsl() {
        return saslSsl;
    }

    private void startServer(Map<String, String> overrides) throws IOException {
        int controllerPort = freePort();
        Properties p = new Properties();
        p.put("process.roles", "broker,controller");
        p.put("node.id", "1");
        p.put("controller.quorum.bootstrap.servers", "127.0.0.1:" + controllerPort);
        p.put("controller.listener.names", "CONTROLLER");
        if (saslSsl == null) {
            p.put("listeners", "PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort);
            p.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + port);
            p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        } else {
            Path keyStore = dir.resolve("keystore.p12");
            String keyStorePassword = "keystore-secret";
            selfSignedCertificate(keyStore, keyStorePassword, saslSsl.trustStore(), saslSsl.trustStorePassword());
            p.put("listeners", "SASL_SSL://127.0.0.1:" + port + ",INTERNAL://127.0.0.1:" + internalPort
                    + ",CONTROLLER://127.0.0.1:" + controllerPort);
            p.put("advertised.listeners", "SASL_SSL://127.0.0.1:" + port + ",INTERNAL://127.0.0.1:" + internalPort);
            p.put("listener.security.protocol.map", "SASL_SSL:SASL_SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT");
            p.put("inter.broker.listener.name", "INTERNAL");
            p.put("sasl.enabled.mechanisms", "SCRAM-SHA-512");
            p.put("listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config",
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;");
            p.put("ssl.keystore.location", keyStore.toString());
            p.put("ssl.keystore.type", "PKCS12");
            p.put("ssl.keystore.password", keyStorePassword);
            p.put("ssl.key.password", keyStorePassword);
        }
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
        java.util.List<String> format = new java.util.ArrayList<>(java.util.List.of("format", "-t",
                Uuid.randomUuid().toString(), "-c", file.toString(), "--standalone"));
        if (saslSsl != null) {
            // SCRAM credentials live in the cluster metadata; format writes the first ones.
            format.addAll(java.util.List.of("--add-scram", "SCRAM-SHA-512=[name=" + saslSsl.user() + ",password="
                    + saslSsl.password() + "]"));
        }
        int rc = StorageTool.execute(format.toArray(String[]::new), new PrintStream(out, true, StandardCharsets.UTF_8));
        if (rc != 0) {
            throw new IllegalStateException("kafka-storage format failed (" + rc + "): " + out.toString(StandardCharsets.UTF_8));
        }
        server = new KafkaRaftServer(new KafkaConfig(p, true), Time.SYSTEM);
        server.startup();
        awaitReady();
    }

    private void awaitReady() {
        String servers = internalPort > 0 ? "127.0.0.1:" + internalPort : bootstrapServers();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, servers))) {
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

    /** A key pair and self-signed certificate for 127.0.0.1 (JDK's keytool), and a trust store holding the certificate. */
    private static void selfSignedCertificate(Path keyStore, String keyStorePassword, Path trustStore,
            String trustStorePassword) throws IOException {
        Path cert = keyStore.resolveSibling("broker.crt");
        keytool("-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2",
                "-dname", "CN=localhost", "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-storetype", "PKCS12",
                "-keystore", keyStore.toString(), "-storepass", keyStorePassword, "-keypass", keyStorePassword);
        keytool("-exportcert", "-alias", "broker", "-rfc", "-file", cert.toString(), "-keystore", keyStore.toString(),
                "-storetype", "PKCS12", "-storepass", keyStorePassword);
        keytool("-importcert", "-noprompt", "-alias", "broker", "-file", cert.toString(), "-storetype", "PKCS12",
                "-keystore", trustStore.toString(), "-storepass", trustStorePassword);
    }

    private static void keytool(String... args) throws IOException {
        java.util.List<String> command = new java.util.ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        command.addAll(java.util.List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new IOException("keytool " + args[0] + " failed: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running keytool", e);
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
