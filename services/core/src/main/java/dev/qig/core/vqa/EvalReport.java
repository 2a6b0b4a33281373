package dev.qig.core.vqa;

import dev.qig.data.Domain;
import dev.qig.data.QuestionType;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * Exact-match accuracy and answer log-likelihood of one model variant on VQA samples, broken down
 * by domain and question type; and, question by question in evaluation order, whether the answer
 * was right and its KL to the reference, for paired comparisons of variants on the same questions
 * ({@link PairedComparison}).
 */
public final class EvalReport {

    private final String label;
    private final Map<Domain, Map<QuestionType, int[]>> counts = new EnumMap<>(Domain.class);
    private final Map<Domain, double[]> logLikelihood = new EnumMap<>(Domain.class);
    private final Map<Domain, double[]> kl = new EnumMap<>(Domain.class);
    private final java.util.List<String> questionIds = new java.util.ArrayList<>();
    private final java.util.BitSet correct = new java.util.BitSet();
    private double[] questionKl = new double[64];

    public EvalReport(String label) {
        this.label = label;
    }

    void add(String id, Domain domain, QuestionType type, boolean correct, double answerLogLikelihood,
             double klToReference) {
        int i = questionIds.size();
        questionIds.add(id);
        this.correct.set(i, correct);
        if (i == questionKl.length) {
            questionKl = java.util.Arrays.copyOf(questionKl, 2 * i);
        }
        questionKl[i] = klToReference;
        if (!Double.isNaN(klToReference)) {
            double[] k = kl.computeIfAbsent(domain, d -> new double[2]);
            k[0] += klToReference;
            k[1]++;
        }
        int[] c = counts.computeIfAbsent(domain, d -> new EnumMap<>(QuestionType.class))
                .computeIfAbsent(type, t -> new int[2]);
        c[0] += correct ? 1 : 0;
        c[1]++;
        double[] ll = logLikelihood.computeIfAbsent(domain, d -> new double[2]);
        ll[0] += answerLogLikelihood;
        ll[1]++;
    }

    public String label() {
        return label;
    }

    /** Ids of the questions, in evaluation order. */
    public java.util.List<String> questionIds() {
        return java.util.List.copyOf(questionIds);
    }

    /** Per question, in evaluation order: was the answer exactly right. */
    public boolean[] correctness() {
        boolean[] out = new boolean[questionIds.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = correct.get(i);
        }
        return out;
    }

    /** Per question, in evaluation order: mean KL of the answer distribution to the reference (NaN without one). */
    public double[] questionKl() {
        return java.util.Arrays.copyOf(questionKl, questionIds.size());
    }

    public Iterable<Domain> domains() {
        return counts.keySet();
    }

    /** Accuracy in [0,1] of one question type in one domain, NaN when it has no samples. */
    public double accuracy(Domain domain, QuestionType type) {
        int[] c = counts.getOrDefault(domain, Map.of()).get(type);
        return c == null || c[1] == 0 ? Double.NaN : (double) c[0] / c[1];
    }

    public int count(Domain domain, QuestionType type) {
        int[] c = counts.getOrDefault(domain, Map.of()).get(type);
        return c == null ? 0 : c[1];
    }

    /** Accuracy over all questions of a domain. */
    public double accuracy(Domain domain) {
        int right = 0;
        int all = 0;
        for (int[] c : counts.getOrDefault(domain, Map.of()).values()) {
            right += c[0];
            all += c[1];
        }
        return all == 0 ? Double.NaN : (double) right / all;
    }

    /** Unweighted mean of the per-domain accuracies. */
    public double meanAccuracy() {
        double sum = 0;
        int n = 0;
        for (Domain d : counts.keySet()) {
            sum += accuracy(d);
            n++;
        }
        return n == 0 ? Double.NaN : sum / n;
    }

    /** Lowest accuracy of any (domain, question type) cell. */
    public double worstCellAccuracy() {
        double worst = Double.NaN;
        for (Domain d : counts.keySet()) {
            for (QuestionType t : counts.get(d).keySet()) {
                double a = accuracy(d, t);
                worst = Double.isNaN(worst) ? a : Math.min(worst, a);
            }
        }
        return worst;
    }

    /** Mean answer log-likelihood (nats per answer) in a domain. */
    public double meanLogLikelihood(Domain domain) {
        double[] ll = logLikelihood.get(domain);
        return ll == null || ll[1] == 0 ? Double.NaN : ll[0] / ll[1];
    }

    /** Mean KL (nats per answer token) of the answer distribution to full precision; NaN if not measured. */
    public double meanKl(Domain domain) {
        double[] k = kl.get(domain);
        return k == null || k[1] == 0 ? Double.NaN : k[0] / k[1];
    }

    /** Text table: one row per domain, accuracy (%) per question type, overall, and log-likelihood. */
    public String toTable() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-10s", "domain"));
        for (QuestionType t : QuestionType.values()) {
            sb.append(String.format(Locale.ROOT, " %9s", t.id()));
        }
        sb.append(String.format(Locale.ROOT, " %9s %9s %6s%n", "all", "loglik", "n"));
        for (Domain d : counts.keySet()) {
            sb.append(String.format(Locale.ROOT, "%-10s", d.id()));
            int n = 0;
            for (QuestionType t : QuestionType.values()) {
                sb.append(String.format(Locale.ROOT, " %9s", pct(accuracy(d, t))));
                n += count(d, t);
            }
            sb.append(String.format(Locale.ROOT, " %9s %9.3f %6d%n", pct(accuracy(d)), meanLogLikelihood(d), n));
        }
        sb.append(String.format(Locale.ROOT, "mean accuracy %s, worst (domain, type) cell %s%n",
                pct(meanAccuracy()), pct(worstCellAccuracy())));
        return sb.toString();
    }

    static String pct(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.1f", 100 * v);
    }
}
