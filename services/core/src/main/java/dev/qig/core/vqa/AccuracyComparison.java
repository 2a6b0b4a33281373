package dev.qig.core.vqa;

import dev.qig.data.Domain;
import dev.qig.data.QuestionType;
import java.util.List;
import java.util.Locale;

/** Side-by-side accuracy of several model variants (e.g. full precision and W3 RTN) per domain. */
public final class AccuracyComparison {

    private AccuracyComparison() {}

    /** Markdown table: one row per domain, one column per variant, plus mean and worst cell rows. */
    public static String markdown(List<EvalReport> reports) {
        StringBuilder sb = new StringBuilder("| domain |");
        for (EvalReport r : reports) {
            sb.append(' ').append(r.label()).append(" acc % | ").append(r.label()).append(" loglik |");
        }
        sb.append('\n').append("|---|");
        sb.append("---:|---:|".repeat(reports.size())).append('\n');
        for (Domain d : reports.get(0).domains()) {
            sb.append("| ").append(d.id()).append(" |");
            for (EvalReport r : reports) {
                sb.append(' ').append(EvalReport.pct(r.accuracy(d))).append(" | ")
                        .append(String.format(Locale.ROOT, "%.3f", r.meanLogLikelihood(d))).append(" |");
            }
            sb.append('\n');
        }
        sb.append("| **mean** |");
        for (EvalReport r : reports) {
            sb.append(" **").append(EvalReport.pct(r.meanAccuracy())).append("** | |");
        }
        sb.append('\n').append("| worst (domain, type) |");
        for (EvalReport r : reports) {
            sb.append(' ').append(EvalReport.pct(r.worstCellAccuracy())).append(" | |");
        }
        return sb.append('\n').toString();
    }

    /** Markdown table of one report: accuracy (%) per domain and question type. */
    public static String perType(EvalReport r) {
        StringBuilder sb = new StringBuilder("| domain |");
        for (QuestionType t : QuestionType.values()) {
            sb.append(' ').append(t.id()).append(" |");
        }
        sb.append(" all |\n|---|").append("---:|".repeat(QuestionType.values().length + 1)).append('\n');
        for (Domain d : r.domains()) {
            sb.append("| ").append(d.id()).append(" |");
            for (QuestionType t : QuestionType.values()) {
                sb.append(' ').append(EvalReport.pct(r.accuracy(d, t))).append(" |");
            }
            sb.append(' ').append(EvalReport.pct(r.accuracy(d))).append(" |\n");
        }
        return sb.toString();
    }
}
