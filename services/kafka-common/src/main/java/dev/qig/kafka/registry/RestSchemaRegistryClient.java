package dev.qig.kafka.registry;

import static dev.qig.kafka.registry.SchemaRegistries.BASIC_AUTH_CREDENTIALS_SOURCE;
import static dev.qig.kafka.registry.SchemaRegistries.BASIC_AUTH_USER_INFO;
import static dev.qig.kafka.registry.SchemaRegistries.BEARER_AUTH_CREDENTIALS_SOURCE;
import static dev.qig.kafka.registry.SchemaRegistries.BEARER_AUTH_TOKEN;
import static dev.qig.kafka.registry.SchemaRegistries.HTTP_CONNECT_TIMEOUT_MS;
import static dev.qig.kafka.registry.SchemaRegistries.HTTP_READ_TIMEOUT_MS;
import static dev.qig.kafka.registry.SchemaRegistries.SSL_TRUSTSTORE_LOCATION;
import static dev.qig.kafka.registry.SchemaRegistries.SSL_TRUSTSTORE_PASSWORD;
import static dev.qig.kafka.registry.SchemaRegistries.SSL_TRUSTSTORE_TYPE;
import static dev.qig.kafka.registry.SchemaRegistries.URL;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

import org.apache.avro.Schema;
import org.apache.avro.SchemaParseException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * A client of the Confluent Schema Registry REST API v1, which Confluent's registry and
 * Apicurio's {@code /apis/ccompat/v7} both serve. It needs only the JDK's HTTP client, because
 * Confluent's own client jars are not available to the project. Answers are cached for the life
 * of the client: ids never change once assigned. Thread-safe.
 */
public final class RestSchemaRegistryClient implements SchemaRegistryClient {

    private static final Logger log = LoggerFactory.getLogger(RestSchemaRegistryClient.class);
    private static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
    private static final String ACCEPT =
            "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json; qs=0.9, application/json; qs=0.5";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final List<String> baseUrls;
    private final String authorization;
    private final String authKind;
    private final Duration readTimeout;
    private final HttpClient http;
    // The URL that answered last is tried first, so one dead node costs one failed connect, not one per call.
    private final AtomicInteger preferred = new AtomicInteger();
    private final Map<Integer, Schema> schemas = new ConcurrentHashMap<>();
    private final Map<SubjectSchema, Integer> ids = new ConcurrentHashMap<>();

    private record SubjectSchema(String subject, Schema schema) {
    }

    /**
     * @param urls comma-separated base URLs; user info in them is removed from the URLs and used
     *             as basic credentials when {@code basic.auth.credentials.source} is {@code URL}
     * @param configs the auth and timeout keys of {@link SchemaRegistries}
     */
    public RestSchemaRegistryClient(String urls, Map<String, ?> configs) {
        List<String> bases = new ArrayList<>();
        String urlUserInfo = null;
        for (String raw : urls.split(",")) {
            if (raw.isBlank()) {
                continue;
            }
            URI uri;
            try {
                uri = new URI(raw.strip());
            } catch (URISyntaxException e) {
                throw new IllegalArgumentException(URL + ": not a URL: " + mask(raw.strip()));
            }
            if (!"http".equalsIgnoreCase(uri.getScheme()) && !"https".equalsIgnoreCase(uri.getScheme())
                    || uri.getHost() == null) {
                throw new IllegalArgumentException(URL + ": expected http(s)://host[:port][/path] or mock://scope, got "
                        + mask(raw.strip()));
            }
            if (uri.getUserInfo() != null && urlUserInfo == null) {
                urlUserInfo = uri.getUserInfo();
            }
            String path = uri.getRawPath() == null ? "" : uri.getRawPath().replaceAll("/+$", "");
            bases.add(uri.getScheme().toLowerCase() + "://" + uri.getHost() + (uri.getPort() < 0 ? "" : ":" + uri.getPort()) + path);
        }
        if (bases.isEmpty()) {
            throw new IllegalArgumentException(URL + " holds no URL");
        }
        this.baseUrls = List.copyOf(bases);

        String[] auth = authorization(configs, urlUserInfo);
        authKind = auth[0];
        authorization = auth[1];

        readTimeout = Duration.ofMillis(SchemaRegistries.getLong(configs, HTTP_READ_TIMEOUT_MS, 30_000));
        // No redirects followed (the default): they would carry the Authorization header to another host.
        HttpClient.Builder builder = HttpClient.newBuilder()
                // Plain HTTP/1.1: an h2c upgrade attempt buys nothing for a few small JSON calls.
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofMillis(SchemaRegistries.getLong(configs, HTTP_CONNECT_TIMEOUT_MS, 10_000)));
        SSLContext tls = tls(configs);
        if (tls != null) {
            builder.sslContext(tls);
        }
        http = builder.build();
    }

    /** A TLS context that trusts the configured truststore, or null for the JVM's default trust. */
    private static SSLContext tls(Map<String, ?> configs) {
        String location = SchemaRegistries.get(configs, SSL_TRUSTSTORE_LOCATION);
        if (location == null || location.isBlank()) {
            return null;
        }
        String type = SchemaRegistries.get(configs, SSL_TRUSTSTORE_TYPE);
        type = type == null || type.isBlank() ? "PKCS12" : type.strip();
        String password = SchemaRegistries.get(configs, SSL_TRUSTSTORE_PASSWORD);
        try (InputStream in = Files.newInputStream(Path.of(location.strip()))) {
            KeyStore store = KeyStore.getInstance(type);
            store.load(in, password == null ? null : password.toCharArray());
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(store);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, trust.getTrustManagers(), null);
            return context;
        } catch (IOException | GeneralSecurityException e) {
            // The message names the file and the type, never the password.
            throw new IllegalArgumentException(SSL_TRUSTSTORE_LOCATION + ": cannot load the " + type + " truststore "
                    + location.strip() + ": " + e.getMessage(), e);
        }
    }

    /** {kind, Authorization header value or null} from the Confluent auth keys. */
    private static String[] authorization(Map<String, ?> configs, String urlUserInfo) {
        String basicSource = SchemaRegistries.get(configs, BASIC_AUTH_CREDENTIALS_SOURCE);
        basicSource = basicSource == null || basicSource.isBlank() ? "URL" : basicSource.strip().toUpperCase();
        String userInfo = switch (basicSource) {
            case "URL" -> urlUserInfo;
            case "USER_INFO" -> SchemaRegistries.get(configs, BASIC_AUTH_USER_INFO);
            default -> throw new IllegalArgumentException(BASIC_AUTH_CREDENTIALS_SOURCE + ": URL or USER_INFO expected, got " + basicSource);
        };
        boolean basic = userInfo != null && !userInfo.isEmpty();
        if (basic && !userInfo.contains(":")) {
            throw new IllegalArgumentException("basic auth credentials must be user:password (value not shown)");
        }
        String bearerSource = SchemaRegistries.get(configs, BEARER_AUTH_CREDENTIALS_SOURCE);
        if (bearerSource == null || bearerSource.isBlank()) {
            return basic ? new String[] {"basic", basicHeader(userInfo)} : new String[] {"none", null};
        }
        if (!"STATIC_TOKEN".equalsIgnoreCase(bearerSource.strip())) {
            throw new IllegalArgumentException(BEARER_AUTH_CREDENTIALS_SOURCE + ": STATIC_TOKEN expected, got " + bearerSource);
        }
        String token = SchemaRegistries.get(configs, BEARER_AUTH_TOKEN);
        if (token == null || token.isBlank()) {
            throw new IllegalArgumentException(BEARER_AUTH_TOKEN + " is required with " + BEARER_AUTH_CREDENTIALS_SOURCE + "=STATIC_TOKEN");
        }
        if (basic) {
            throw new IllegalArgumentException("configure either basic or bearer authentication for the schema registry, not both");
        }
        return new String[] {"bearer", "Bearer " + token.strip()};
    }

    private static String basicHeader(String userInfo) {
        return "Basic " + Base64.getEncoder().encodeToString(userInfo.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public int register(String subject, Schema schema) {
        return subjectCall(subject, schema, "/versions", "registering the schema");
    }

    @Override
    public int idOf(String subject, Schema schema) {
        return subjectCall(subject, schema, "", "looking up the schema");
    }

    // register and idOf both post the schema and read "id"; whichever ran first fills the cache.
    private int subjectCall(String subject, Schema schema, String pathSuffix, String action) {
        SubjectSchema key = new SubjectSchema(subject, schema);
        Integer cached = ids.get(key);
        if (cached != null) {
            return cached;
        }
        String body;
        try {
            body = JSON.writeValueAsString(Map.of("schema", schema.toString()));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        String path = "/subjects/" + URLEncoder.encode(subject, StandardCharsets.UTF_8).replace("+", "%20") + pathSuffix;
        String context = "subject " + subject;
        JsonNode answer = send(path, body, context, action);
        JsonNode id = answer.get("id");
        if (id == null || !id.canConvertToInt()) {
            throw new SchemaRegistryException(context + ": answer without an id from registry " + baseUrls,
                    200, SchemaRegistryException.NONE);
        }
        ids.putIfAbsent(key, id.intValue());
        schemas.putIfAbsent(id.intValue(), schema);
        return id.intValue();
    }

    @Override
    public Schema schemaById(int id) {
        Schema cached = schemas.get(id);
        if (cached != null) {
            return cached;
        }
        String context = "schema id " + id;
        JsonNode answer = send("/schemas/ids/" + id, null, context, "fetching the schema");
        JsonNode type = answer.get("schemaType");
        if (type != null && !type.isNull() && !"AVRO".equalsIgnoreCase(type.asText())) {
            throw new SchemaRegistryException(context + " is a " + type.asText() + " schema, not Avro", 200, SchemaRegistryException.NONE);
        }
        JsonNode text = answer.get("schema");
        if (text == null || !text.isTextual()) {
            throw new SchemaRegistryException(context + ": answer without a schema from registry " + baseUrls,
                    200, SchemaRegistryException.NONE);
        }
        Schema schema;
        try {
            schema = new Schema.Parser().parse(text.asText());
        } catch (SchemaParseException e) {
            JsonNode refs = answer.get("references");
            String why = refs != null && refs.size() > 0 ? " (it uses schema references, which this client does not resolve)" : "";
            throw new SchemaRegistryException(context + ": not a valid Avro schema" + why + ": " + e.getMessage(),
                    200, SchemaRegistryException.NONE, e);
        }
        Schema previous = schemas.putIfAbsent(id, schema);
        return previous != null ? previous : schema;
    }

    /** POSTs {@code body} (GET when null) to {@code path} on the first base URL that accepts a connection. */
    private JsonNode send(String path, String body, String context, String action) {
        IOException lastFailure = null;
        int start = preferred.get();
        for (int i = 0; i < baseUrls.size(); i++) {
            int index = (start + i) % baseUrls.size();
            String base = baseUrls.get(index);
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path))
                    .timeout(readTimeout)
                    .header("Accept", ACCEPT);
            if (authorization != null) {
                request.header("Authorization", authorization);
            }
            if (body == null) {
                request.GET();
            } else {
                request.header("Content-Type", CONTENT_TYPE).POST(HttpRequest.BodyPublishers.ofString(body));
            }
            HttpResponse<String> response;
            try {
                response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
            } catch (IOException e) {
                log.warn("schema registry {} failed while {} for {}: {}", base, action, context, e.toString());
                lastFailure = e;
                continue;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SchemaRegistryException(context + ": interrupted while " + action, SchemaRegistryException.NONE,
                        SchemaRegistryException.NONE, e);
            }
            preferred.set(index);
            return answer(response, base, context, action);
        }
        throw new SchemaRegistryException(context + ": schema registry unreachable at " + baseUrls + " while " + action
                + ": " + lastFailure, SchemaRegistryException.NONE, SchemaRegistryException.NONE, lastFailure);
    }

    private static JsonNode answer(HttpResponse<String> response, String base, String context, String action) {
        int status = response.statusCode();
        JsonNode json = null;
        try {
            json = JSON.readTree(response.body());
        } catch (IOException e) {
            // An error page from a proxy is not JSON; reported below with the status.
        }
        if (status / 100 == 2 && json != null && json.isObject()) {
            return json;
        }
        int errorCode = json != null && json.path("error_code").canConvertToInt() ? json.get("error_code").intValue()
                : SchemaRegistryException.NONE;
        if (errorCode <= 0) {
            // Apicurio's ccompat API answers a refused (409) schema with error_code 0: no code at all.
            errorCode = SchemaRegistryException.NONE;
        }
        String detail = json != null && json.hasNonNull("message") ? json.get("message").asText()
                : abbreviate(response.body());
        String problem = switch (status) {
            case 404 -> context + " not found in registry " + base;
            case 409 -> context + ": schema is incompatible with an earlier version in registry " + base;
            case 401, 403 -> context + ": not authorized by registry " + base + " while " + action;
            case 422 -> context + ": schema refused as invalid by registry " + base;
            default -> context + ": " + action + " failed at registry " + base;
        };
        throw new SchemaRegistryException(problem + " (HTTP " + status
                + (errorCode == SchemaRegistryException.NONE ? "" : ", error code " + errorCode) + ": " + detail + ")",
                status, errorCode);
    }

    private static String abbreviate(String body) {
        String oneLine = body == null ? "" : body.replaceAll("\\s+", " ").strip();
        return oneLine.length() <= 200 ? oneLine : oneLine.substring(0, 200) + "...";
    }

    /** {@code url} with any user info replaced by {@code ***}, for messages. */
    static String mask(String url) {
        return url.replaceAll("(?<=://)[^/@]*@", "***@");
    }

    @Override
    public String toString() {
        return "RestSchemaRegistryClient" + baseUrls + "[auth=" + authKind + "]";
    }
}
