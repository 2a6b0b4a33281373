package dev.qig.aggregator.internals;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.qig.schemas.internal.DriftCheck;
import dev.qig.schemas.internal.GroupDriftCheck;
import dev.qig.schemas.internal.RoundProgress;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;

/**
 * The aggregator's HTTP endpoint (interactive queries on its state stores): {@code /health},
 * {@code /rounds} (progress of every open round, with the drift statistics of the round key's latest
 * closed search round), {@code /plans[?key=round key]} and
 * {@code /configs[?key=round key/method]}. Answers JSON; serves what this instance holds.
 */
public final class QueryServer {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpServer server;

    private QueryServer(HttpServer server) {
        this.server = server;
    }

    public static QueryServer start(int port, AggregatorView aggregator) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(port), 0);
        server.setExecutor(Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "qig-aggregator-http");
            t.setDaemon(true);
            return t;
        }));
        server.createContext("/health", ex -> {
            boolean up = aggregator.isRunning();
            ObjectNode n = JSON.createObjectNode().put("status", up ? "UP" : "DOWN").put("streams", aggregator.state());
            send(ex, up ? 200 : 503, n.toString());
        });
        server.createContext("/rounds", ex -> answer(ex, aggregator, () -> {
            ArrayNode list = JSON.createArrayNode();
            for (RoundProgress s : aggregator.rounds()) {
                ObjectNode round = JSON.createObjectNode();
                list.add(round
                        .put("roundKey", s.getRoundKey())
                        .put("round", s.getRound())
                        .put("planVersion", s.getPlanVersion())
                        .put("samples", s.getSamples())
                        .put("closesAt", aggregator.roundSamples())
                        .put("openedAtMs", s.getOpenedAtMs())
                        .put("duplicatesSkipped", s.getDuplicates())
                        .set("domains", JSON.valueToTree(new TreeMap<>(s.getDomains()))));
                if (s.getLastDriftCheck() != null) {
                    round.set("drift", drift(s.getLastDriftCheck()));
                }
            }
            return list.toString();
        }));
        server.createContext("/plans", ex -> answer(ex, aggregator, () -> {
            String key = query(ex).get("key");
            ArrayNode list = JSON.createArrayNode();
            for (var plan : aggregator.plans().entrySet()) {
                if (key == null || key.equals(plan.getKey())) {
                    list.add(JSON.readTree(plan.getValue().toString()));
                }
            }
            return list.toString();
        }));
        server.createContext("/configs", ex -> answer(ex, aggregator, () -> {
            String key = query(ex).get("key");
            ArrayNode list = JSON.createArrayNode();
            for (var e : new TreeMap<>(aggregator.configs()).entrySet()) {
                if (key == null || e.getKey().equals(key) || e.getKey().startsWith(key + "/")) {
                    list.add(JSON.readTree(e.getValue().toString()));
                }
            }
            return list.toString();
        }));
        server.start();
        return new QueryServer(server);
    }

    /** The latest drift check as JSON (a regret of infinity, possible only on a zero loss, is written as a string). */
    private static ObjectNode drift(DriftCheck c) {
        ObjectNode n = JSON.createObjectNode()
                .put("round", c.getRound())
                .put("planVersion", c.getPlanVersion())
                .put("method", c.getMethod())
                .put("maxRegret", c.getMaxRegret())
                .put("medianRegret", c.getMedianRegret())
                .put("maxMuShift", c.getMaxMuShift())
                .put("medianMuShift", c.getMedianMuShift())
                .put("roundsOver", c.getRoundsOver())
                .put("driftConfirmed", c.getDriftConfirmed());
        n.set("maxRegretByMethod", JSON.valueToTree(new TreeMap<>(c.getMaxRegretByMethod())));
        ArrayNode groups = n.putArray("groups");
        for (GroupDriftCheck g : c.getGroups()) {
            groups.addObject().put("layer", g.getLayer()).put("group", g.getGroup()).put("regret", g.getRegret())
                    .put("muShift", g.getMuShift());
        }
        return n;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    public void stop() {
        server.stop(0);
    }

    private interface Body {
        String get() throws Exception;
    }

    private static void answer(HttpExchange ex, AggregatorView aggregator, Body body) throws IOException {
        if (!aggregator.isRunning()) {
            send(ex, 503, JSON.createObjectNode().put("error", "not running: " + aggregator.state()).toString());
            return;
        }
        try {
            send(ex, 200, body.get());
        } catch (Exception e) {
            send(ex, 500, JSON.createObjectNode().put("error", String.valueOf(e.getMessage())).toString());
        }
    }

    private static Map<String, String> query(HttpExchange ex) {
        Map<String, String> out = new TreeMap<>();
        String q = ex.getRequestURI().getRawQuery();
        if (q != null) {
            for (String part : q.split("&")) {
                int eq = part.indexOf('=');
                if (eq > 0) {
                    out.put(URLDecoder.decode(part.substring(0, eq), StandardCharsets.UTF_8),
                            URLDecoder.decode(part.substring(eq + 1), StandardCharsets.UTF_8));
                }
            }
        }
        return out;
    }

    private static void send(HttpExchange ex, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }
}
