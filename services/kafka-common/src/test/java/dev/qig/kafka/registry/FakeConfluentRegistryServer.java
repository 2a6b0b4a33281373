package dev.qig.kafka.registry;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * A FAKE Confluent Schema Registry for tests: the JDK's HTTP server on 127.0.0.1 answering only
 * the three endpoints the client uses, under a path prefix as Apicurio's ccompat API has. It
 * checks nothing (no compatibility, no auth) and records every request for assertions.
 */
final class FakeConfluentRegistryServer implements AutoCloseable {

    record Request(String method, String path, String subject, String contentType, String authorization, String body) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpServer server;
    private final String prefix;
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final Map<String, Integer> idByText = new HashMap<>();
    private final Map<Integer, String> textById = new HashMap<>();
    private final Map<String, List<Integer>> subjects = new HashMap<>();
    private volatile int[] forcedError;
    private volatile String forcedMessage;

    FakeConfluentRegistryServer(String prefix) throws IOException {
        this(prefix, null);
    }

    /** Over HTTPS with the server certificate of {@code tls} when it is not null. */
    FakeConfluentRegistryServer(String prefix, javax.net.ssl.SSLContext tls) throws IOException {
        this.prefix = prefix;
        InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        if (tls == null) {
            server = HttpServer.create(address, 0);
        } else {
            com.sun.net.httpserver.HttpsServer https = com.sun.net.httpserver.HttpsServer.create(address, 0);
            https.setHttpsConfigurator(new com.sun.net.httpserver.HttpsConfigurator(tls));
            server = https;
        }
        server.createContext(prefix.isEmpty() ? "/" : prefix, this::handle);
        server.start();
    }

    String url() {
        String scheme = server instanceof com.sun.net.httpserver.HttpsServer ? "https" : "http";
        return scheme + "://127.0.0.1:" + server.getAddress().getPort() + prefix;
    }


    List<Request> requests() {
        return requests;
    }

    /** Every following request is answered with this Confluent-style error. */
    void failWith(int status, int errorCode, String message) {
        forcedMessage = message;
        forcedError = new int[] {status, errorCode};
    }

    private synchronized void handle(HttpExchange exchange) throws IOException {
        try {
            String rawPath = exchange.getRequestURI().getRawPath().substring(prefix.length());
            String[] parts = rawPath.split("/");
            String subject = parts.length > 2 && parts[1].equals("subjects")
                    ? URLDecoder.decode(parts[2], StandardCharsets.UTF_8) : null;
            String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            requests.add(new Request(exchange.getRequestMethod(), rawPath, subject,
                    exchange.getRequestHeaders().getFirst("Content-Type"),
                    exchange.getRequestHeaders().getFirst("Authorization"), body));
            int[] forced = forcedError;
            if (forced != null) {
                reply(exchange, forced[0], Map.of("error_code", forced[1], "message", forcedMessage));
                return;
            }
            boolean post = exchange.getRequestMethod().equals("POST");
            if (post && subject != null && parts.length == 4 && parts[3].equals("versions")) {
                String text = JSON.readTree(body).get("schema").asText();
                int id = idByText.computeIfAbsent(text, t -> idByText.size() + 1);
                textById.put(id, text);
                List<Integer> versions = subjects.computeIfAbsent(subject, s -> new ArrayList<>());
                if (!versions.contains(id)) {
                    versions.add(id);
                }
                reply(exchange, 200, Map.of("id", id));
            } else if (post && subject != null && parts.length == 3) {
                String text = JSON.readTree(body).get("schema").asText();
                List<Integer> versions = subjects.get(subject);
                Integer id = idByText.get(text);
                if (versions == null) {
                    reply(exchange, 404, Map.of("error_code", 40401, "message", "Subject '" + subject + "' not found."));
                } else if (id == null || !versions.contains(id)) {
                    reply(exchange, 404, Map.of("error_code", 40403, "message", "Schema not found"));
                } else {
                    reply(exchange, 200, Map.of("subject", subject, "id", id, "version", versions.indexOf(id) + 1, "schema", text));
                }
            } else if (!post && parts.length == 4 && parts[1].equals("schemas") && parts[2].equals("ids")) {
                String text = textById.get(Integer.parseInt(parts[3]));
                if (text == null) {
                    reply(exchange, 404, Map.of("error_code", 40403, "message", "Schema not found"));
                } else {
                    reply(exchange, 200, Map.of("schema", text));
                }
            } else {
                reply(exchange, 404, Map.of("error_code", 404, "message", "HTTP 404 Not Found"));
            }
        } finally {
            exchange.close();
        }
    }

    private static void reply(HttpExchange exchange, int status, Map<String, ?> json) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(json);
        exchange.getResponseHeaders().set("Content-Type", "application/vnd.schemaregistry.v1+json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    /** Registers directly, as another producer would have. */
    synchronized int preRegister(String subject, String schemaText) {
        int id = idByText.computeIfAbsent(schemaText, t -> idByText.size() + 1);
        textById.put(id, schemaText);
        subjects.computeIfAbsent(subject, s -> new ArrayList<>()).add(id);
        return id;
    }

    JsonNode parse(String body) throws IOException {
        return JSON.readTree(body);
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
