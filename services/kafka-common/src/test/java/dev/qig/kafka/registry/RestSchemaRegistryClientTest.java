package dev.qig.kafka.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;

import org.apache.avro.Schema;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import dev.qig.schemas.CalibrationSample;

/** The REST client against {@link FakeConfluentRegistryServer}, served under Apicurio's ccompat prefix. */
class RestSchemaRegistryClientTest {

    private static final String PREFIX = "/apis/ccompat/v7";
    private static final String PASSWORD = "s3cr3t-Pa55w0rd";
    private static final Schema SCHEMA = CalibrationSample.getClassSchema();

    private FakeConfluentRegistryServer fake;

    @BeforeEach
    void start() throws IOException {
        fake = new FakeConfluentRegistryServer(PREFIX);
    }

    @AfterEach
    void stop() {
        fake.close();
    }

    private static SchemaRegistryClient client(String url, Object... keyValues) {
        Map<String, Object> configs = new HashMap<>();
        configs.put(SchemaRegistries.URL, url);
        for (int i = 0; i < keyValues.length; i += 2) {
            configs.put((String) keyValues[i], keyValues[i + 1]);
        }
        return SchemaRegistries.create(configs);
    }

    @Test
    void registerPostsTheSchemaUnderTheEncodedSubjectAndReturnsTheId() throws IOException {
        SchemaRegistryClient client = client(fake.url());
        String subject = "qig.calibration-samples.v1/odd name-value";

        int id = client.register(subject, SCHEMA);

        assertEquals(1, id);
        assertEquals(1, fake.requests().size());
        FakeConfluentRegistryServer.Request request = fake.requests().get(0);
        assertEquals("POST", request.method());
        assertEquals("/subjects/qig.calibration-samples.v1%2Fodd%20name-value/versions", request.path());
        assertEquals(subject, request.subject());
        assertEquals("application/vnd.schemaregistry.v1+json", request.contentType());
        assertEquals(SCHEMA, new Schema.Parser().parse(fake.parse(request.body()).get("schema").asText()));
        assertNull(request.authorization());
    }

    @Test
    void registeringTheSameSchemaAgainIsAnsweredFromTheCache() {
        SchemaRegistryClient client = client(fake.url());
        int first = client.register("a-value", SCHEMA);
        assertEquals(first, client.register("a-value", SCHEMA));
        assertEquals(first, client.idOf("a-value", SCHEMA));
        assertEquals(1, fake.requests().size());
        assertEquals(first, client.register("b-value", SCHEMA), "same schema, same global id");
        assertEquals(2, fake.requests().size());
    }

    @Test
    void schemaByIdIsFetchedOnceThenCached() {
        int id = fake.preRegister("a-value", SCHEMA.toString());
        SchemaRegistryClient client = client(fake.url());

        assertEquals(SCHEMA, client.schemaById(id));
        assertEquals(1, fake.requests().size());
        assertEquals("GET", fake.requests().get(0).method());
        assertEquals("/schemas/ids/" + id, fake.requests().get(0).path());

        assertEquals(SCHEMA, client.schemaById(id));
        assertEquals(1, fake.requests().size(), "second lookup must not reach the registry");
    }

    @Test
    void idOfLooksTheSchemaUpWithoutRegistering() {
        int id = fake.preRegister("a-value", SCHEMA.toString());
        SchemaRegistryClient client = client(fake.url());

        assertEquals(id, client.idOf("a-value", SCHEMA));
        assertEquals("/subjects/a-value", fake.requests().get(0).path());

        SchemaRegistryException e = assertThrows(SchemaRegistryException.class, () -> client.idOf("other-value", SCHEMA));
        assertEquals(404, e.status());
        assertEquals(40401, e.errorCode());
    }

    @Test
    void unknownIdIsA404WithTheConfluentErrorCode() {
        SchemaRegistryClient client = client(fake.url());
        SchemaRegistryException e = assertThrows(SchemaRegistryException.class, () -> client.schemaById(42));
        assertEquals(404, e.status());
        assertEquals(40403, e.errorCode());
        assertTrue(e.isNotFound());
        assertTrue(e.getMessage().startsWith("schema id 42 not found in registry " + fake.url()), e.getMessage());
        assertTrue(e.getMessage().contains("Schema not found"), e.getMessage());
    }

    @Test
    void incompatibleSchemaIsA409() {
        fake.failWith(409, 409, "Schema being registered is incompatible with an earlier schema");
        SchemaRegistryClient client = client(fake.url());
        SchemaRegistryException e = assertThrows(SchemaRegistryException.class, () -> client.register("x-value", SCHEMA));
        assertEquals(409, e.status());
        assertEquals(409, e.errorCode());
        assertTrue(e.getMessage().startsWith("subject x-value: schema is incompatible with an earlier version"), e.getMessage());
    }

    @Test
    void errorCodeZeroAsApicurioSendsItIsNoErrorCode() {
        fake.failWith(409, 0, "Incompatible artifact: x-value [AVRO], num of incompatible diffs: {1}");
        SchemaRegistryClient client = client(fake.url());
        SchemaRegistryException e = assertThrows(SchemaRegistryException.class, () -> client.register("x-value", SCHEMA));
        assertEquals(409, e.status());
        assertEquals(SchemaRegistryException.NONE, e.errorCode());
        assertTrue(e.getMessage().endsWith("(HTTP 409: Incompatible artifact: x-value [AVRO], num of incompatible diffs: {1})"),
                e.getMessage());
    }

    @Test
    void basicAuthFromUserInfoIsSent() {
        SchemaRegistryClient client = client(fake.url(),
                SchemaRegistries.BASIC_AUTH_CREDENTIALS_SOURCE, "USER_INFO",
                SchemaRegistries.BASIC_AUTH_USER_INFO, "alice:" + PASSWORD);
        client.register("a-value", SCHEMA);
        assertEquals(basic("alice", PASSWORD), fake.requests().get(0).authorization());
    }

    @Test
    void prefixedKeysAreHonoured() {
        SchemaRegistryClient client = client(fake.url(),
                "schema.registry.basic.auth.credentials.source", "USER_INFO",
                "schema.registry.basic.auth.user.info", "bob:" + PASSWORD,
                SchemaRegistries.BASIC_AUTH_USER_INFO, "ignored:because-prefixed-wins");
        client.register("a-value", SCHEMA);
        assertEquals(basic("bob", PASSWORD), fake.requests().get(0).authorization());
    }

    @Test
    void basicAuthFromTheUrlIsSentAndRemovedFromTheUrl() {
        String url = fake.url().replace("http://", "http://carol:" + PASSWORD + "@");
        SchemaRegistryClient client = client(url);
        client.register("a-value", SCHEMA);
        assertEquals(basic("carol", PASSWORD), fake.requests().get(0).authorization());
        assertEquals("RestSchemaRegistryClient[" + fake.url() + "][auth=basic]", client.toString());
    }

    @Test
    void bearerTokenIsSent() {
        SchemaRegistryClient client = client(fake.url(),
                SchemaRegistries.BEARER_AUTH_CREDENTIALS_SOURCE, "STATIC_TOKEN",
                SchemaRegistries.BEARER_AUTH_TOKEN, "tok-123");
        client.schemaById(fake.preRegister("a-value", SCHEMA.toString()));
        assertEquals("Bearer tok-123", fake.requests().get(0).authorization());
    }

    @Test
    void failsOverToTheNextUrlWhenTheFirstRefusesConnections() throws IOException {
        String dead = "http://127.0.0.1:" + deadPort() + PREFIX;
        SchemaRegistryClient client = client(dead + "," + fake.url());

        assertEquals(1, client.register("a-value", SCHEMA));
        assertEquals(1, fake.requests().size());
        assertEquals(SCHEMA, client.schemaById(1));
    }

    @Test
    void unreachableRegistryHasNoStatus() throws IOException {
        SchemaRegistryClient client = client("http://127.0.0.1:" + deadPort());
        SchemaRegistryException e = assertThrows(SchemaRegistryException.class, () -> client.schemaById(1));
        assertEquals(SchemaRegistryException.NONE, e.status());
        assertTrue(e.getMessage().contains("unreachable"), e.getMessage());
    }

    @Test
    void thePasswordNeverAppearsInMessagesOrToString() throws IOException {
        SchemaRegistryClient userInfo = client(fake.url(),
                SchemaRegistries.BASIC_AUTH_CREDENTIALS_SOURCE, "USER_INFO",
                SchemaRegistries.BASIC_AUTH_USER_INFO, "alice:" + PASSWORD);
        SchemaRegistryClient inUrl = client("http://alice:" + PASSWORD + "@127.0.0.1:" + deadPort() + ","
                + fake.url().replace("http://", "http://alice:" + PASSWORD + "@"));
        SchemaRegistryClient deadInUrl = client("http://alice:" + PASSWORD + "@127.0.0.1:" + deadPort());

        for (SchemaRegistryClient client : new SchemaRegistryClient[] {userInfo, inUrl, deadInUrl}) {
            assertFalse(client.toString().contains(PASSWORD), client.toString());
            SchemaRegistryException e = assertThrows(SchemaRegistryException.class, () -> client.schemaById(7));
            assertFalse(messages(e).contains(PASSWORD), messages(e));
        }
        fake.failWith(401, 40101, "Unauthorized");
        SchemaRegistryException e = assertThrows(SchemaRegistryException.class, () -> userInfo.register("a-value", SCHEMA));
        assertEquals(401, e.status());
        assertFalse(messages(e).contains(PASSWORD), messages(e));

        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> client("http://alice:" + PASSWORD + "@host:8081",
                SchemaRegistries.BEARER_AUTH_CREDENTIALS_SOURCE, "STATIC_TOKEN", SchemaRegistries.BEARER_AUTH_TOKEN, "t"));
        assertFalse(bad.getMessage().contains(PASSWORD), bad.getMessage());
        IllegalArgumentException badUrl = assertThrows(IllegalArgumentException.class,
                () -> client("ftp://alice:" + PASSWORD + "@host:8081"));
        assertFalse(badUrl.getMessage().contains(PASSWORD), badUrl.getMessage());
    }

    /** The message of the exception and of its causes. */
    private static String messages(Throwable e) {
        StringBuilder all = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            all.append(t).append('\n');
        }
        return all.toString();
    }

    private static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    /** A loopback port nothing listens on: bound, then released, so a connection is refused. */
    private static int deadPort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
