package dev.qig.app.study;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qig.data.Domain;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.GroupKey;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.core.engine.QuantizedWeights;
import dev.qig.core.vqa.EvalReport;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The results of {@code qig drift-study} as Markdown tables, CSV and JSON. */
final class DriftTable {

    private DriftTable() {}

    /** The table and verdicts of one drift. */
    static String render(DriftStudyCommand.Study study, Domain to, EvalReport fp32, EvalReport rtn,
                         List<DriftComparison> rows) {
        Domain from = study.from();
        int draws = study.repeats();
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%s -> %s, %s: %d draw%s of %d calibration samples per domain, %d held-out "
                + "%s questions. Before: calibrated on %s; after: re-calibrated on %s. Differences are after minus before, "
                + "with %.0f%% paired bootstrap intervals%s; accuracy in %%, KL to full precision in nats per answer "
                + "token x 1000.%n%n", from.id(), to.id(), study.scheme().id(), draws, draws == 1 ? "" : "s",
                study.samples(), fp32.questionIds().size(), to.id(), from.id(), to.id(), 100 * ResultsTable.CONFIDENCE,
                draws == 1 ? "" : " (resampling draws and questions)"));
        sb.append(String.format(Locale.ROOT, "| method | accuracy before (%s) | accuracy after (%s) | difference [95%% interval] "
                + "| McNemar p | KL before | KL after | KL difference [95%% interval] |%n", from.id(), to.id()));
        sb.append("|---|---:|---:|---:|---:|---:|---:|---:|\n");
        sb.append(String.format(Locale.ROOT, "| fp32 | %.1f | %.1f | | | 0.00 | 0.00 | |%n", 100 * fp32.accuracy(to),
                100 * fp32.accuracy(to)));
        double rtnKl = 1000 * rtn.meanKl(to);
        String rtnLabel = study.scheme().staticActivations() ? "rtn (ranges of " + from.id() + ", first draw)"
                : "rtn (calibration-free)";
        sb.append(String.format(Locale.ROOT, "| %s | %.1f | %.1f | | | %.2f | %.2f | |%n", rtnLabel,
                100 * rtn.accuracy(to), 100 * rtn.accuracy(to), rtnKl, rtnKl));
        for (DriftComparison c : rows) {
            sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %.2f | %.2f | %s |%n", c.method().id(),
                    DriftComparison.percent(c.accuracyBefore()), DriftComparison.percent(c.accuracyAfter()),
                    ResultsTable.points(c.accuracy()), c.pValueList(), 1000 * c.klBefore(), 1000 * c.klAfter(),
                    ResultsTable.klPoints(c.kl())));
        }
        sb.append('\n');
        for (DriftComparison c : rows) {
            sb.append(c.verdictLine(from, to)).append('\n');
        }
        return sb.toString();
    }

    /**
     * Per draw, the alphas every method chose on every domain, and how far the re-calibrated ones
     * moved from those chosen before the drift (mean absolute change over the groups).
     */
    static String alphas(DriftStudyCommand.Study study, List<DriftStudyCommand.Draw> draws) {
        StringBuilder sb = new StringBuilder();
        List<Method> searches = study.methods().stream().filter(Method::searchesScales).toList();
        List<Method> gptq = study.methods().stream().filter(Method::roundsWithGptq).toList();
        for (int k = 0; k < draws.size(); k++) {
            DriftStudyCommand.Draw draw = draws.get(k);
            if (!searches.isEmpty()) {
                java.util.Set<GroupKey> union = new java.util.TreeSet<>();
                searches.forEach(m -> union.addAll(draw.before().get(m).groups().keySet()));
                List<GroupKey> keys = new ArrayList<>(union);
                sb.append(String.format(Locale.ROOT, "%nAlphas chosen, draw %d (seed %d):%n%n| method | calibrated on |", k + 1,
                        draw.seed()));
                keys.forEach(key -> sb.append(' ').append(key).append(" |"));
                sb.append(" mean abs change |\n|---|---|").append("---:|".repeat(keys.size())).append("---:|\n");
                for (Method m : searches) {
                    QuantConfig before = draw.before().get(m);
                    sb.append(alphaRow(m, study.from(), before, keys, ""));
                    for (Domain d : study.to()) {
                        QuantConfig after = draw.after().get(d).get(m);
                        sb.append(alphaRow(m, d, after, keys, String.format(Locale.ROOT, "%.3f",
                                meanAbsoluteChange(before, after))));
                    }
                }
            }
            if (!gptq.isEmpty()) {
                sb.append(String.format(Locale.ROOT, "%nGPTQ weights re-calibrated after the drift, draw %d (seed %d): share of "
                        + "the integer codes that changed%n%n| method | calibrated on | codes changed |%n|---|---|---:|%n", k + 1,
                        draw.seed()));
                for (Method m : gptq) {
                    for (Domain d : study.to()) {
                        sb.append(String.format(Locale.ROOT, "| %s | %s | %.1f%% |%n", m.id(), d.id(),
                                100 * changedCodes(draw.before().get(m), draw.after().get(d).get(m))));
                    }
                }
            }
        }
        return sb.toString();
    }

    /** The share of integer codes that differ between two configs' quantized weights. */
    static double changedCodes(QuantConfig before, QuantConfig after) {
        try {
            QuantizedWeights a = QuantizedWeights.read(Path.of(before.weights().location()), before.weights().sha256());
            QuantizedWeights b = QuantizedWeights.read(Path.of(after.weights().location()), after.weights().sha256());
            long changed = 0;
            long total = 0;
            for (Map.Entry<String, QuantizedWeights.Linear> e : a.linears().entrySet()) {
                int[] x = e.getValue().codes();
                int[] y = b.linears().get(e.getKey()).codes();
                for (int i = 0; i < x.length; i++) {
                    changed += x[i] != y[i] ? 1 : 0;
                }
                total += x.length;
            }
            return total == 0 ? 0 : (double) changed / total;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static String alphaRow(Method m, Domain d, QuantConfig c, List<GroupKey> keys, String change) {
        StringBuilder sb = new StringBuilder("| " + m.id() + " | " + d.id() + " |");
        for (GroupKey key : keys) {
            QuantConfig.GroupChoice g = c.groups().get(key);
            sb.append(g == null ? " - |" : String.format(Locale.ROOT, " %.2f |", g.alpha()));
        }
        return sb.append(' ').append(change).append(" |\n").toString();
    }

    /** Mean over the groups of both configs of |alpha after - alpha before| (a group without scales has alpha 0). */
    static double meanAbsoluteChange(QuantConfig before, QuantConfig after) {
        java.util.Set<GroupKey> keys = new java.util.TreeSet<>(before.groups().keySet());
        keys.addAll(after.groups().keySet());
        if (keys.isEmpty()) {
            return 0;
        }
        double sum = 0;
        for (GroupKey key : keys) {
            QuantConfig.GroupChoice b = before.groups().get(key);
            QuantConfig.GroupChoice a = after.groups().get(key);
            sum += Math.abs((a == null ? 0 : a.alpha()) - (b == null ? 0 : b.alpha()));
        }
        return sum / keys.size();
    }

    /** Writes drift-study-&lt;scheme&gt;.md (the tables), .csv (one row per drift and method) and .json (also per draw). */
    static void write(Path dir, DriftStudyCommand.Study study, CalibrationSettings settings, Map<Domain, EvalReport> fp32,
                      Map<Domain, EvalReport> rtn, Map<Domain, List<DriftComparison>> comparisons,
                      List<DriftStudyCommand.Draw> draws, String markdown) throws IOException {
        String base = "drift-study-" + study.scheme().id();
        StringBuilder csv = new StringBuilder("scheme,from,to,method,draws,calibration_samples,questions,accuracy_before,"
                + "accuracy_after,accuracy_difference,accuracy_lower,accuracy_upper,mcnemar_p,kl_before,kl_after,"
                + "kl_difference,kl_lower,kl_upper,accuracy_verdict,kl_verdict\n");
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("scheme", study.scheme().id());
        root.put("from", study.from().id());
        ArrayNode toNode = root.putArray("to");
        study.to().forEach(d -> toNode.add(d.id()));
        root.put("calibrationSamples", study.samples());
        root.put("repeats", study.repeats());
        root.put("seed", study.seed());
        root.put("questionsPerDomain", study.evalLimit());
        root.put("confidence", ResultsTable.CONFIDENCE);
        root.put("igRule", settings.igRule().id());
        root.put("igSteps", settings.igSteps());
        ArrayNode summary = root.putArray("comparisons");
        for (Map.Entry<Domain, List<DriftComparison>> e : comparisons.entrySet()) {
            Domain to = e.getKey();
            int n = fp32.get(to).questionIds().size();
            String prefix = String.format(Locale.ROOT, "%s,%s,%s", study.scheme().id(), study.from().id(), to.id());
            csv.append(String.format(Locale.ROOT, "%s,fp32,,,%d,%.4f,%.4f,,,,,0,0,,,,,%n", prefix, n,
                    fp32.get(to).accuracy(to), fp32.get(to).accuracy(to)));
            csv.append(String.format(Locale.ROOT, "%s,rtn,,,%d,%.4f,%.4f,,,,,%.6f,%.6f,,,,,%n", prefix, n,
                    rtn.get(to).accuracy(to), rtn.get(to).accuracy(to), rtn.get(to).meanKl(to), rtn.get(to).meanKl(to)));
            ObjectNode ref = summary.addObject();
            ref.put("to", to.id());
            ref.put("fp32Accuracy", fp32.get(to).accuracy(to));
            ref.put("rtnAccuracy", rtn.get(to).accuracy(to));
            ref.put("rtnKl", rtn.get(to).meanKl(to));
            ArrayNode methods = ref.putArray("methods");
            for (DriftComparison c : e.getValue()) {
                csv.append(String.format(Locale.ROOT, "%s,%s,%d,%d,%d,%.4f,%.4f,%.4f,%.4f,%.4f,%s,%.6f,%.6f,%.6f,%.6f,%.6f,%s,%s%n",
                        prefix, c.method().id(), study.repeats(), study.samples(), n, c.meanBefore(), c.meanAfter(),
                        c.accuracy().difference(), c.accuracy().lower(), c.accuracy().upper(),
                        c.pValueList().replace(", ", ";"), c.klBefore(), c.klAfter(), c.kl().difference(), c.kl().lower(),
                        c.kl().upper(), c.accuracyVerdict().text(), c.klVerdict().text()));
                ObjectNode row = methods.addObject();
                row.put("method", c.method().id());
                putArray(row.putArray("accuracyBefore"), c.accuracyBefore());
                putArray(row.putArray("accuracyAfter"), c.accuracyAfter());
                row.put("accuracyDifference", c.accuracy().difference());
                row.put("accuracyLower", c.accuracy().lower());
                row.put("accuracyUpper", c.accuracy().upper());
                putArray(row.putArray("mcnemarP"), c.pValues());
                row.put("klBefore", c.klBefore());
                row.put("klAfter", c.klAfter());
                row.put("klDifference", c.kl().difference());
                row.put("klLower", c.kl().lower());
                row.put("klUpper", c.kl().upper());
                row.put("accuracyVerdict", c.accuracyVerdict().text());
                row.put("klVerdict", c.klVerdict().text());
            }
        }
        ArrayNode perDraw = root.putArray("draws");
        for (DriftStudyCommand.Draw draw : draws) {
            ObjectNode d = perDraw.addObject();
            d.put("seed", draw.seed());
            ArrayNode configs = d.putArray("configs");
            for (Method m : study.methods()) {
                addConfig(configs, m, study.from(), draw.before().get(m), draw.beforeReports());
                for (Domain to : study.to()) {
                    addConfig(configs, m, to, draw.after().get(to).get(m), Map.of(to, draw.afterReports().get(to)));
                }
            }
        }
        Files.writeString(dir.resolve(base + ".md"), markdown, StandardCharsets.UTF_8);
        Files.writeString(dir.resolve(base + ".csv"), csv.toString(), StandardCharsets.UTF_8);
        Files.writeString(dir.resolve(base + ".json"), json.writerWithDefaultPrettyPrinter().writeValueAsString(root),
                StandardCharsets.UTF_8);
    }

    private static void addConfig(ArrayNode configs, Method m, Domain calibratedOn, QuantConfig config,
                                  Map<Domain, Map<Method, EvalReport>> reports) {
        ObjectNode c = configs.addObject();
        c.put("method", m.id());
        c.put("calibratedOn", calibratedOn.id());
        ObjectNode alphas = c.putObject("alphas");
        config.groups().forEach((k, g) -> alphas.put(k.toString(), g.alpha()));
        ObjectNode results = c.putObject("evaluatedOn");
        reports.forEach((d, byMethod) -> {
            EvalReport r = byMethod.get(m);
            ObjectNode e = results.putObject(d.id());
            e.put("accuracy", r.accuracy(d));
            e.put("answerLogLikelihood", r.meanLogLikelihood(d));
            e.put("klToFullPrecision", r.meanKl(d));
        });
    }

    private static void putArray(ArrayNode node, double[] values) {
        Arrays.stream(values).forEach(node::add);
    }
}
