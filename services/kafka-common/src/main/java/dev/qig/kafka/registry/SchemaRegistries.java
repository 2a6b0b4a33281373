package dev.qig.kafka.registry;

import java.util.Map;
import java.util.Set;

/**
 * Builds a {@link SchemaRegistryClient} from Kafka-style client configs, with the key names of
 * Confluent's clients so that existing configuration files keep working. Every key except
 * {@link #URL} may also be given with the prefix {@value #PREFIX}, which then wins.
 */
public final class SchemaRegistries {

    /** Prefix Confluent accepts in front of the registry keys, e.g. {@code schema.registry.basic.auth.user.info}. */
    public static final String PREFIX = "schema.registry.";
    /**
     * Required. Comma-separated base URLs, tried in turn on connection failure; a path prefix is
     * kept ({@code http://host:8080/apis/ccompat/v7} for Apicurio). {@code mock://<scope>} selects
     * {@link MockSchemaRegistry}.
     */
    public static final String URL = "schema.registry.url";
    /** {@code URL} (default: credentials from the URL's user info) or {@code USER_INFO} ({@link #BASIC_AUTH_USER_INFO}). */
    public static final String BASIC_AUTH_CREDENTIALS_SOURCE = "basic.auth.credentials.source";
    /** {@code user:password} for HTTP basic authentication when the source is {@code USER_INFO}. */
    public static final String BASIC_AUTH_USER_INFO = "basic.auth.user.info";
    /** {@code STATIC_TOKEN} to send {@link #BEARER_AUTH_TOKEN} as a bearer token. */
    public static final String BEARER_AUTH_CREDENTIALS_SOURCE = "bearer.auth.credentials.source";
    /** The bearer token when the bearer source is {@code STATIC_TOKEN}. */
    public static final String BEARER_AUTH_TOKEN = "bearer.auth.token";
    /** Connection timeout in milliseconds (default 10000). */
    public static final String HTTP_CONNECT_TIMEOUT_MS = "http.connect.timeout.ms";
    /** Timeout of one request, until the answer is read, in milliseconds (default 30000). */
    public static final String HTTP_READ_TIMEOUT_MS = "http.read.timeout.ms";

    /**
     * A truststore file whose certificates the client trusts for an HTTPS registry (a private CA);
     * unset, the JVM's default trust store. Only in the {@value #PREFIX} form: {@code ssl.*} keys are
     * the Kafka clients'.
     */
    public static final String SSL_TRUSTSTORE_LOCATION = PREFIX + "ssl.truststore.location";
    /** The truststore's password (none when unset). */
    public static final String SSL_TRUSTSTORE_PASSWORD = PREFIX + "ssl.truststore.password";
    /** The truststore's format, {@code PKCS12} (default) or {@code JKS}. */
    public static final String SSL_TRUSTSTORE_TYPE = PREFIX + "ssl.truststore.type";

    /**
     * Every key above without the {@value #PREFIX} form (the URL and TLS keys have only that form), so that a service can pick the registry's
     * keys out of its configuration (prefixed keys are recognised by the prefix).
     */
    public static final Set<String> CLIENT_KEYS = Set.of(URL, BASIC_AUTH_CREDENTIALS_SOURCE, BASIC_AUTH_USER_INFO,
            BEARER_AUTH_CREDENTIALS_SOURCE, BEARER_AUTH_TOKEN, HTTP_CONNECT_TIMEOUT_MS, HTTP_READ_TIMEOUT_MS,
            SSL_TRUSTSTORE_LOCATION, SSL_TRUSTSTORE_PASSWORD, SSL_TRUSTSTORE_TYPE);

    private SchemaRegistries() {
    }

    /**
     * A client for {@link #URL}: the shared {@link MockSchemaRegistry} scope for {@code mock://},
     * else a {@link RestSchemaRegistryClient}.
     *
     * @throws IllegalArgumentException when the URL is missing or the auth keys are inconsistent
     */
    public static SchemaRegistryClient create(Map<String, ?> configs) {
        String url = get(configs, URL);
        if (url == null || url.isBlank()) {
            throw new IllegalArgumentException(URL + " is required");
        }
        url = url.strip();
        if (url.startsWith("mock://")) {
            if (url.contains(",")) {
                throw new IllegalArgumentException(URL + ": a mock:// URL must be the only one");
            }
            return MockSchemaRegistry.scope(url.substring("mock://".length()));
        }
        return new RestSchemaRegistryClient(url, configs);
    }

    /** The value of {@code key}, the {@value #PREFIX} form first; null when neither is set. */
    static String get(Map<String, ?> configs, String key) {
        Object value = configs.get(key.startsWith(PREFIX) ? key : PREFIX + key);
        if (value == null) {
            value = configs.get(key);
        }
        if (value instanceof org.apache.kafka.common.config.types.Password p) {
            return p.value();
        }
        return value == null ? null : value.toString();
    }

    static long getLong(Map<String, ?> configs, String key, long defaultValue) {
        String value = get(configs, key);
        if (value == null || value.isBlank()) {
            return defaultValue;
        }
        try {
            return Long.parseLong(value.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + " must be a number of milliseconds, was '" + value + "'");
        }
    }
}
