package dev.qig.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The Grafana dashboards under {@code deploy/grafana/dashboards}: every PromQL query in them and the
 * metric names each one reads. Queries name the project's metrics ({@code qig_*}) and the JVM's
 * ({@code jvm_*}); label matchers, grouping clauses and strings are removed before names are read.
 */
public final class Dashboards {

    static final Path DIRECTORY = locate();
    private static final Pattern METRIC = Pattern.compile("\\b((?:qig|jvm|process)_[A-Za-z0-9_:]*)");

    private Dashboards() {}

    private static Path locate() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path d = p.resolve("deploy/grafana/dashboards");
            if (Files.isDirectory(d)) {
                return d;
            }
        }
        throw new IllegalStateException("deploy/grafana/dashboards not found above " + Path.of("").toAbsolutePath());
    }

    /** Per dashboard file, its parsed JSON. */
    public static Map<String, JsonNode> load() throws IOException {
        Map<String, JsonNode> out = new LinkedHashMap<>();
        ObjectMapper json = new ObjectMapper();
        try (Stream<Path> files = Files.list(DIRECTORY)) {
            for (Path f : files.filter(f -> f.toString().endsWith(".json")).sorted().toList()) {
                out.put(f.getFileName().toString(), json.readTree(f.toFile()));
            }
        }
        return out;
    }

    /** Every {@code expr} in a dashboard (panels' targets and annotations), wherever it is nested. */
    public static List<String> queries(JsonNode dashboard) {
        List<String> out = new ArrayList<>();
        collect(dashboard, out);
        return out;
    }

    private static void collect(JsonNode node, List<String> out) {
        if (node.isObject()) {
            node.fields().forEachRemaining(e -> {
                if (e.getKey().equals("expr") && e.getValue().isTextual()) {
                    out.add(e.getValue().asText());
                } else {
                    collect(e.getValue(), out);
                }
            });
        } else if (node.isArray()) {
            node.forEach(n -> collect(n, out));
        }
    }

    /** The metric names one query reads (as exposed: with _total, _bucket, ... suffixes). */
    public static Set<String> metricNames(String query) {
        String q = query.replaceAll("\"(?:[^\"\\\\]|\\\\.)*\"", "\"\"")   // strings
                .replaceAll("\\{[^}]*}", "")                                 // label matchers
                .replaceAll("\\b(?:by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)", ""); // label lists
        Set<String> out = new TreeSet<>();
        Matcher m = METRIC.matcher(q);
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }
}
