package dev.qig.kafka.metrics;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The rules {@code promtool check metrics} applies to a scrape (Prometheus' promlint: help text,
 * base units, counter suffixes, names reserved for histograms and summaries, metric types in names,
 * reserved characters, camelCase, abbreviated units), written here so that every test that scrapes
 * a service can check what it serves where promtool is not installed.
 */
public final class PromLint {

    private static final Set<String> NON_BASE_UNITS = Set.of("milliseconds", "microseconds", "nanoseconds", "minutes",
            "hours", "days", "weeks", "kilobytes", "megabytes", "gigabytes", "terabytes", "kibibytes", "mebibytes",
            "gibibytes", "bits", "millis", "micros", "nanos", "percent");
    private static final Set<String> ABBREVIATIONS = Set.of("s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb",
            "pb", "m", "h", "d");
    private static final List<String> TYPES_IN_NAMES = List.of("counter", "gauge", "histogram", "summary", "untyped");

    private PromLint() {}

    /** What promtool would report, one line per problem; empty when the scrape follows the conventions. */
    public static List<String> problems(String exposition) {
        Map<String, String> types = new LinkedHashMap<>();
        Map<String, String> help = new LinkedHashMap<>();
        Map<String, Set<String>> labels = new LinkedHashMap<>();
        for (String line : exposition.split("\n")) {
            if (line.startsWith("# TYPE ")) {
                String[] p = line.split(" ", 4);
                types.put(p[2], p[3].strip());
            } else if (line.startsWith("# HELP ")) {
                String[] p = line.split(" ", 4);
                help.put(p[2], p.length > 3 ? p[3].strip() : "");
            } else if (!line.isBlank() && !line.startsWith("#")) {
                int brace = line.indexOf('{');
                int space = line.indexOf(' ');
                String name = brace >= 0 && brace < space ? line.substring(0, brace) : line.substring(0, space);
                Set<String> names = labels.computeIfAbsent(name, k -> new TreeSet<>());
                if (brace >= 0 && brace < space) {
                    for (String pair : line.substring(brace + 1, line.lastIndexOf('}')).split(",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)")) {
                        int eq = pair.indexOf('=');
                        if (eq > 0) {
                            names.add(pair.substring(0, eq).strip());
                        }
                    }
                }
            }
        }
        List<String> out = new ArrayList<>();
        types.forEach((name, type) -> {
            if (help.getOrDefault(name, "").isEmpty()) {
                out.add(name + ": no help text");
            }
            List<String> tokens = List.of(name.split("_"));
            for (String t : tokens) {
                if (NON_BASE_UNITS.contains(t)) {
                    out.add(name + ": use base units (seconds, bytes), not " + t);
                }
                if (ABBREVIATIONS.contains(t)) {
                    out.add(name + ": metric names should not contain abbreviated units (" + t + ")");
                }
            }
            boolean counter = type.equals("counter");
            if (counter && !name.endsWith("_total")) {
                out.add(name + ": counter metrics should have \"_total\" suffix");
            }
            if (!counter && name.endsWith("_total")) {
                out.add(name + ": non-counter metrics should not have \"_total\" suffix");
            }
            if (!type.equals("histogram") && name.endsWith("_bucket")) {
                out.add(name + ": non-histogram metrics should not have \"_bucket\" suffix");
            }
            if (!type.equals("histogram") && !type.equals("summary") && (name.endsWith("_count") || name.endsWith("_sum"))) {
                out.add(name + ": non-histogram and non-summary metrics should not have \"_count\" or \"_sum\" suffix");
            }
            for (String t : TYPES_IN_NAMES) {
                if (tokens.contains(t)) {
                    out.add(name + ": metric name should not include type '" + t + "'");
                }
            }
            if (name.contains(":")) {
                out.add(name + ": metric names should not contain ':'");
            }
            if (!name.equals(name.toLowerCase(java.util.Locale.ROOT))) {
                out.add(name + ": metric names should be written in 'snake_case' not 'camelCase'");
            }
        });
        labels.forEach((sample, names) -> {
            for (String l : names) {
                if (!l.equals(l.toLowerCase(java.util.Locale.ROOT))) {
                    out.add(sample + ": label names should be written in 'snake_case' not 'camelCase' (" + l + ")");
                }
                if (l.equals("le") && !sample.endsWith("_bucket")) {
                    out.add(sample + ": non-histogram metrics should not have \"le\" label");
                }
            }
        });
        return out;
    }
}
