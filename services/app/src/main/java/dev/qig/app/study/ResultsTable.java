package dev.qig.app.study;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qig.data.Domain;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.Method;
import dev.qig.quant.QuantScheme;
import dev.qig.core.vqa.EvalReport;
import dev.qig.core.vqa.PairedComparison;
import java.util.ArrayList;
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

    /** Confidence of every interval in the comparison. */
    static final double CONFIDENCE = 0.95;

    /**
     * Every method against full precision and against MBQ on the same questions, over all draws:
     * mean accuracy, the paired differences with their bootstrap intervals, McNemar's exact p per
     * draw, KL, and a verdict per method against MBQ.
     */
    static String comparison(QuantScheme scheme, EvalReport fp32, List<Map<Method, EvalReport>> draws) {
        int k = draws.size();
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%s, %d draw%s, %d questions; differences in accuracy points with %.0f%% "
                + "paired bootstrap intervals%s; KL in nats per answer token x 1000%n%n", scheme.id(), k, k == 1 ? "" : "s",
                fp32.questionIds().size(), 100 * CONFIDENCE, k == 1 ? "" : " (resampling draws and questions)"));
        sb.append("| method | accuracy % | vs fp32 | vs MBQ | McNemar p vs MBQ | KL | KL vs MBQ |\n");
        sb.append("|---|---:|---:|---:|---:|---:|---:|\n");
        sb.append(String.format(Locale.ROOT, "| fp32 | %.1f | | | | 0.00 | |%n", 100 * fp32.meanAccuracy()));
        List<String> verdicts = new ArrayList<>();
        for (Method m : Method.values()) {
            if (!draws.get(0).containsKey(m)) {
                continue;
            }
            List<boolean[]> right = new ArrayList<>();
            List<boolean[]> reference = new ArrayList<>();
            double[][] kl = new double[k][];
            List<String> accuracies = new ArrayList<>();
            for (Map<Method, EvalReport> d : draws) {
                right.add(d.get(m).correctness());
                reference.add(fp32.correctness());
                kl[right.size() - 1] = d.get(m).questionKl();
                accuracies.add(String.format(Locale.ROOT, "%.1f", 100 * d.get(m).meanAccuracy()));
            }
            double mean = draws.stream().mapToDouble(d -> d.get(m).meanAccuracy()).average().orElse(Double.NaN);
            PairedComparison vsFp = PairedComparison.accuracy(right, reference, CONFIDENCE);
            String vsMbq = "";
            String p = "";
            String klVsMbq = "";
            if (m != Method.MBQ && draws.get(0).containsKey(Method.MBQ)) {
                List<boolean[]> mbq = new ArrayList<>();
                double[][] mbqKl = new double[k][];
                List<String> ps = new ArrayList<>();
                for (int i = 0; i < k; i++) {
                    mbq.add(draws.get(i).get(Method.MBQ).correctness());
                    mbqKl[i] = draws.get(i).get(Method.MBQ).questionKl();
                    ps.add(pValue(PairedComparison.accuracy(right.get(i), mbq.get(i), CONFIDENCE).pValue()));
                }
                PairedComparison c = PairedComparison.accuracy(right, mbq, CONFIDENCE);
                PairedComparison klc = PairedComparison.meanDifference(kl, mbqKl, CONFIDENCE);
                vsMbq = points(c);
                p = String.join(", ", ps);
                klVsMbq = klPoints(klc);
                verdicts.add(String.format(Locale.ROOT, "- %s against MBQ: %s (%s points, accuracy; KL %s)", m.id().toUpperCase(Locale.ROOT),
                        Verdict.of(c, true).text(), points(c), klVsMbq));
            }
            if (m == Method.QIG_GPTQ && draws.get(0).containsKey(Method.GPTQ)) {
                List<boolean[]> gptq = new ArrayList<>();
                double[][] gptqKl = new double[k][];
                for (int i = 0; i < k; i++) {
                    gptq.add(draws.get(i).get(Method.GPTQ).correctness());
                    gptqKl[i] = draws.get(i).get(Method.GPTQ).questionKl();
                }
                PairedComparison c = PairedComparison.accuracy(right, gptq, CONFIDENCE);
                verdicts.add(String.format(Locale.ROOT, "- QIG-GPTQ against GPTQ: %s (%s points, accuracy; KL %s)",
                        Verdict.of(c, true).text(), points(c), klPoints(PairedComparison.meanDifference(kl, gptqKl, CONFIDENCE))));
            }
            double meanKl = 0;
            for (double[] q : kl) {
                meanKl += java.util.Arrays.stream(q).average().orElse(Double.NaN) / k;
            }
            sb.append(String.format(Locale.ROOT, "| %s | %.1f%s | %s | %s | %s | %.2f | %s |%n", m.id(), 100 * mean,
                    k == 1 ? "" : " (" + String.join(", ", accuracies) + ")", points(vsFp), vsMbq, p, 1000 * meanKl, klVsMbq));
        }
        sb.append('\n').append(String.join("\n", verdicts)).append('\n');
        return sb.toString();
    }

    /** An accuracy difference in points with its interval, e.g. "+0.4 [-0.1, +1.0]". */
    static String points(PairedComparison c) {
        return String.format(Locale.ROOT, "%+.1f [%+.1f, %+.1f]", 100 * c.difference(), 100 * c.lower(), 100 * c.upper());
    }

    /** A KL difference in nats per answer token x 1000 with its interval, e.g. "-3.70 [-7.90, +0.21]". */
    static String klPoints(PairedComparison c) {
        return String.format(Locale.ROOT, "%+.2f [%+.2f, %+.2f]", 1000 * c.difference(), 1000 * c.lower(), 1000 * c.upper());
    }

    /** A p-value with three decimals, "<0.001" below that. */
    static String pValue(double p) {
        return p < 0.001 ? "<0.001" : String.format(Locale.ROOT, "%.3f", p);
    }

    static void write(Path dir, QuantScheme scheme, EvalReport fp32, List<Map<Method, EvalReport>> draws,
                      List<Map<Method, Double>> seconds, int samples, CalibrationSettings settings, String markdown)
            throws IOException {
        StringBuilder csv = new StringBuilder("scheme,draw,method,calibration_seconds,domain,accuracy,answer_loglik,kl_to_fp\n");
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("scheme", scheme.id());
        root.put("calibrationSamples", samples);
        root.put("draws", draws.size());
        root.put("behaviour", settings.behaviour().name().toLowerCase(Locale.ROOT));
        root.put("iqrClip", settings.iqrClip());
        root.put("igSteps", settings.igSteps());
        root.put("igRule", settings.igRule().id());
        ArrayNode rows = root.putArray("results");
        for (int k = 0; k < draws.size(); k++) {
            List<EvalReport> reports = new ArrayList<>();
            reports.add(fp32);
            reports.addAll(draws.get(k).values());
            for (EvalReport r : reports) {
                Double s = seconds.get(k).get(methodOf(r.label()));
                for (Domain d : Domain.values()) {
                    csv.append(String.format(Locale.ROOT, "%s,%d,%s,%s,%s,%.4f,%.4f,%s%n", scheme.id(), k + 1, r.label(),
                            s == null ? "" : String.format(Locale.ROOT, "%.2f", s), d.id(), r.accuracy(d),
                            r.meanLogLikelihood(d), Double.isNaN(r.meanKl(d)) ? "" : String.format(Locale.ROOT, "%.6f", r.meanKl(d))));
                    ObjectNode row = rows.addObject();
                    row.put("draw", k + 1);
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
        }
        Files.writeString(dir.resolve("results-" + scheme.id() + ".csv"), csv.toString(), StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("results-" + scheme.id() + ".json"),
                json.writerWithDefaultPrettyPrinter().writeValueAsString(root), StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("results-" + scheme.id() + ".md"), markdown, StandardCharsets.UTF_8);
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
