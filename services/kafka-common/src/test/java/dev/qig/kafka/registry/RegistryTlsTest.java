package dev.qig.kafka.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.Map;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.apache.avro.Schema;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The registry client over HTTPS with a certificate of its own CA (self-signed here, made with the
 * JDK's keytool): refused with the JVM's default trust, accepted with
 * {@code schema.registry.ssl.truststore.*}; a wrong truststore password is a clear configuration
 * error that does not repeat the password. The server is the FAKE registry of these tests.
 */
class RegistryTlsTest {

    private static final String STORE_PASSWORD = "s3cret-truststore-pw";
    private static final Schema SCHEMA = new Schema.Parser().parse("{\"type\":\"record\",\"name\":\"T\",\"fields\":[]}");

    @TempDir
    static Path dir;
    static Path serverStore;
    static Path trustStore;

    @BeforeAll
    static void certificates() throws Exception {
        serverStore = dir.resolve("server.p12");
        trustStore = dir.resolve("truststore.p12");
        Path cert = dir.resolve("server.crt");
        keytool("-genkeypair", "-alias", "registry", "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2",
                "-dname", "CN=registry.test", "-ext", "san=ip:127.0.0.1,dns:localhost",
                "-keystore", serverStore.toString(), "-storetype", "PKCS12", "-storepass", STORE_PASSWORD);
        keytool("-exportcert", "-alias", "registry", "-keystore", serverStore.toString(), "-storepass", STORE_PASSWORD,
                "-rfc", "-file", cert.toString());
        keytool("-importcert", "-noprompt", "-alias", "registry-ca", "-file", cert.toString(),
                "-keystore", trustStore.toString(), "-storetype", "PKCS12", "-storepass", STORE_PASSWORD);
    }

    private static void keytool(String... args) throws IOException, InterruptedException {
        List<String> command = new java.util.ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), "keytool " + args[0] + ": " + out);
    }

    private static SSLContext serverTls() throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(serverStore)) {
            ks.load(in, STORE_PASSWORD.toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, STORE_PASSWORD.toCharArray());
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(kmf.getKeyManagers(), null, null);
        return tls;
    }

    @Test
    void aPrivateCaIsTrustedThroughTheTruststoreKeysAndOnlyThen() throws Exception {
        try (FakeConfluentRegistryServer fake = new FakeConfluentRegistryServer("/apis/ccompat/v7", serverTls())) {
            assertTrue(fake.url().startsWith("https://"), fake.url());
            int id = fake.preRegister("t-value", SCHEMA.toString());

            SchemaRegistryClient defaultTrust = SchemaRegistries.create(Map.of(SchemaRegistries.URL, fake.url()));
            SchemaRegistryException refused = assertThrows(SchemaRegistryException.class, () -> defaultTrust.schemaById(id));
            assertTrue(fake.requests().isEmpty(), "no request gets through the handshake");

            SchemaRegistryClient trusting = SchemaRegistries.create(Map.of(
                    SchemaRegistries.URL, fake.url(),
                    SchemaRegistries.SSL_TRUSTSTORE_LOCATION, trustStore.toString(),
                    SchemaRegistries.SSL_TRUSTSTORE_PASSWORD, STORE_PASSWORD));
            assertEquals(SCHEMA, trusting.schemaById(id));
            assertEquals(1, fake.requests().size());
            assertFalse(String.valueOf(refused.getMessage()).contains(STORE_PASSWORD));
        }
    }

    @Test
    void aTruststoreThatCannotBeReadIsAConfigurationErrorWithoutThePassword() {
        String wrong = "not-the-password-123";
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SchemaRegistries.create(Map.of(
                SchemaRegistries.URL, "https://127.0.0.1:1",
                SchemaRegistries.SSL_TRUSTSTORE_LOCATION, trustStore.toString(),
                SchemaRegistries.SSL_TRUSTSTORE_PASSWORD, wrong)));
        assertTrue(e.getMessage().startsWith(SchemaRegistries.SSL_TRUSTSTORE_LOCATION + ": cannot load the PKCS12 truststore "
                + trustStore), e.getMessage());
        assertFalse(e.getMessage().contains(wrong), e.getMessage());

        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> SchemaRegistries.create(Map.of(
                SchemaRegistries.URL, "https://127.0.0.1:1",
                SchemaRegistries.SSL_TRUSTSTORE_LOCATION, dir.resolve("absent.p12").toString())));
        assertTrue(missing.getMessage().contains("absent.p12"), missing.getMessage());
    }
}
