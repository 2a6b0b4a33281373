package dev.qig.kafka.config;

import java.util.Collection;

/** Suggestions for a setting that is not known: the closest known key by edit distance. */
final class ConfigKeys {

    private ConfigKeys() {}

    /**
     * "; did you mean 'x'?" for the closest key (the service's own first when as close), or "" when
     * nothing is close enough (more than a third of the key's characters changed).
     */
    static String didYouMean(String key, Collection<String> preferred, Collection<String> known) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (Collection<String> candidates : java.util.List.of(preferred, known)) {
            for (String k : candidates) {
                int d = distance(key, k);
                if (d < bestDistance) {
                    best = k;
                    bestDistance = d;
                }
            }
        }
        return best != null && bestDistance <= Math.max(2, key.length() / 3) ? "; did you mean '" + best + "'?" : "";
    }

    /** Levenshtein distance: insertions, deletions and substitutions of one character. */
    static int distance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] t = previous;
            previous = current;
            current = t;
        }
        return previous[b.length()];
    }
}
