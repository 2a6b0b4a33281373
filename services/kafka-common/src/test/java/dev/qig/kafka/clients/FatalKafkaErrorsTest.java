package dev.qig.kafka.clients;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.kafka.embedded.EmbeddedKafka;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Against a real SASL_SSL broker (TLS, SCRAM-SHA-512): what a misconfigured client meets is named
 * in one line, fast, before Kafka's clients would retry it for a minute or more.
 */
class FatalKafkaErrorsTest {

    private static EmbeddedKafka kafka;

    @BeforeAll
    static void start() {
        kafka = EmbeddedKafka.startSaslSsl("qig", "right-secret");
    }

    @AfterAll
    static void stop() {
        kafka.close();
    }

    private static Map<String, Object> client(String password) {
        Map<String, Object> props = new HashMap<>(kafka.saslSsl().clientProperties(password));
        props.put("bootstrap.servers", kafka.bootstrapServers());
        return props;
    }

    @Test
    void theRightPasswordWorks() throws Exception {
        ListenerCheck.verify(client("right-secret"));
        try (Admin admin = Admin.create(client("right-secret"))) {
            assertFalse(admin.describeCluster().clusterId().get(30, TimeUnit.SECONDS).isEmpty());
        }
    }

    @Test
    void aPlaintextClientOnTheTlsListenerIsToldSoBeforeConnecting() {
        Map<String, Object> plaintext = Map.of("bootstrap.servers", kafka.bootstrapServers());
        FatalKafkaException e = assertThrows(FatalKafkaException.class, () -> ListenerCheck.verify(plaintext));
        assertTrue(e.getMessage().contains("speaks TLS") && e.getMessage().contains("security.protocol=PLAINTEXT"),
                e.getMessage());
    }

    @Test
    void aTlsClientOnAPlaintextListenerIsToldSo() {
        try (EmbeddedKafka plain = EmbeddedKafka.start()) {
            Map<String, Object> tls = new HashMap<>(client("right-secret"));
            tls.put("bootstrap.servers", plain.bootstrapServers());
            FatalKafkaException e = assertThrows(FatalKafkaException.class, () -> ListenerCheck.verify(tls));
            assertTrue(e.getMessage().contains("answers in plaintext"), e.getMessage());
            ListenerCheck.verify(Map.of("bootstrap.servers", plain.bootstrapServers()));
        }
    }

    @Test
    void anUnreachableServerIsLeftToTheClients() {
        ListenerCheck.verify(Map.of("bootstrap.servers", "127.0.0.1:1"));
    }

    @Test
    void theProbeEndsOnAWrongPassword() throws Exception {
        long start = System.nanoTime();
        try (BrokerProbe probe = BrokerProbe.start(client("wrong-secret"), Duration.ofSeconds(5), Duration.ofSeconds(15),
                "test")) {
            FatalKafkaException fatal = probe.fatal().toCompletableFuture().get(30, TimeUnit.SECONDS);
            assertTrue(fatal.getMessage().startsWith("Kafka authentication failed")
                    && fatal.getMessage().contains("SCRAM-SHA-512"), fatal.getMessage());
            assertFalse(probe.reachable());
        }
        System.out.printf("wrong password named in %.1f s%n", (System.nanoTime() - start) / 1e9);
    }

    @Test
    void anUntrustedCertificateIsATlsFailure() throws Exception {
        Map<String, Object> props = client("right-secret");
        props.remove("ssl.truststore.location");
        props.remove("ssl.truststore.type");
        props.remove("ssl.truststore.password");
        try (BrokerProbe probe = BrokerProbe.start(props, Duration.ofSeconds(5), Duration.ofSeconds(15), "test")) {
            FatalKafkaException fatal = probe.fatal().toCompletableFuture().get(30, TimeUnit.SECONDS);
            assertTrue(fatal.getMessage().startsWith("the TLS handshake with the broker failed"), fatal.getMessage());
        }
    }

    @Test
    void aBrokerThatIsDownIsNotFatal() {
        assertEquals(java.util.Optional.empty(), FatalKafkaException.in(new org.apache.kafka.common.errors.TimeoutException(
                "Timed out waiting for a node assignment")));
    }
}
