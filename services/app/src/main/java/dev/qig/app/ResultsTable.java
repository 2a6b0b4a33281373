package dev.qig.app;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qig.core.data.Domain;
import dev.qig.core.quant.CalibrationSettings;
import dev.qig.core.quant.Method;
import dev.qig.core.quant.QuantScheme;
import dev.qig.core.vqa.EvalReport;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The comparison of `qig calibrate` as a Markdown table, CSV and JSON. */
final class ResultsTable {

    private ResultsTable() {}

    static String render(QuantScheme scheme, List<EvalReport> reports, Map<Method, Double> seconds) {
        StringBuilder sb = new StringBuilder();
        sb.append("| ").append(scheme.id()).append(" | calib s |");
        for (Domain d : Domain.values()) {
            sb.append(' ').append(d.id()).append(" acc | ll | KL |");
        }
        sb.append(" mean acc |\n|---|---:|").append("---:|---:|---:|".repeat(Domain.values().length)).append("---:|\n");
        for (EvalReport r : reports) {
            Double s = seconds.get(methodOf(r.label()));
            sb.append("| ").append(r.label()).append(" | ").append(s == null ? "-" : String.format(Locale.ROOT, "%.1f", s)).append(" |");
            for (Domain d : Domain.values()) {
                sb.append(String.format(Locale.ROOT, " %s | %.3f | %s |", pct(r.accuracy(d)), r.meanLogLikelihood(d),
                        Double.isNaN(r.meanKl(d)) ? "-" : String.format(Locale.ROOT, "%.4f", r.meanKl(d))));
            }
            sb.append(' ').append(pct(r.meanAccuracy())).append(" |\n");
        }
        return sb.toString();
    }

    static void write(Path dir, QuantScheme scheme, List<EvalReport> reports, Map<Method, Double> seconds, int samples,
                      CalibrationSettings settings) throws IOException {
        StringBuilder csv = new StringBuilder("scheme,method,calibration_seconds,domain,accuracy,answer_loglik,kl_to_fp\n");
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("scheme", scheme.id());
        root.put("calibrationSamples", samples);
        root.put("behaviour", settings.behaviour().name().toLowerCase(Locale.ROOT));
        root.put("iqrClip", settings.iqrClip());
        ArrayNode rows = root.putArray("results");
        for (EvalReport r : reports) {
            Double s = seconds.get(methodOf(r.label()));
            for (Domain d : Domain.values()) {
                csv.append(String.format(Locale.ROOT, "%s,%s,%s,%s,%.4f,%.4f,%s%n", scheme.id(), r.label(),
                        s == null ? "" : String.format(Locale.ROOT, "%.2f", s), d.id(), r.accuracy(d),
                        r.meanLogLikelihood(d), Double.isNaN(r.meanKl(d)) ? "" : String.format(Locale.ROOT, "%.6f", r.meanKl(d))));
                ObjectNode row = rows.addObject();
                row.put("method", r.label());
                row.put("domain", d.id());
                row.put("accuracy", r.accuracy(d));
                row.put("answerLogLikelihood", r.meanLogLikelihood(d));
                if (!Double.isNaN(r.meanKl(d))) {
                    row.put("klToFullPrecision", r.meanKl(d));
                }
                if (s != null) {
                    row.put("calibrationSeconds", s);
                }
            }
        }
        Files.writeString(dir.resolve("results-" + scheme.id() + ".csv"), csv.toString(), StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("results-" + scheme.id() + ".json"),
                json.writerWithDefaultPrettyPrinter().writeValueAsString(root), StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("results-" + scheme.id() + ".md"), render(scheme, reports, seconds), StandardCharsets.UTF_8);
    }

    private static Method methodOf(String label) {
        try {
            return Method.parse(label);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static String pct(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.1f", 100 * v);
    }
}
