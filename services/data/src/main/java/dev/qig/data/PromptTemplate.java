package dev.qig.data;

import java.util.Arrays;
import java.util.Objects;

/**
 * The chat template {@code <bos> user : {question} <image> assistant : {answer} <eos>}, where {@code <image>}
 * expands to one placeholder per vision token. Without an answer the sequence ends after {@code assistant :},
 * ready for generation.
 *
 * <p>The question may carry one {@code <image>} marker of its own (a separate word), as prompts written
 * for LLaVA-style models do; the vision tokens then go there instead of after the question. Any other
 * template token in a question or answer is refused.
 *
 * <p>The image follows the question (LLaVA and Qwen2-VL templates put it first). Under a causal mask this
 * lets the vision tokens read the question, which is what makes a model this small, trained from scratch
 * in minutes, learn to bind words to objects: with the image first it sits on a long plateau at the
 * answer prior. The model accepts the placeholder anywhere, so other templates work unchanged.
 */
public final class PromptTemplate {

    public static final int DEFAULT_MAX_TOKENS = 64;

    private final Vocabulary vocabulary;
    private final int maxTokens;

    public PromptTemplate() {
        this(Vocabulary.standard(), DEFAULT_MAX_TOKENS);
    }

    /** @param maxTokens limit on the whole encoded sequence, vision placeholders and special tokens included */
    public PromptTemplate(Vocabulary vocabulary, int maxTokens) {
        this.vocabulary = Objects.requireNonNull(vocabulary, "vocabulary");
        if (maxTokens <= 0) {
            throw new IllegalArgumentException("maxTokens must be positive, got " + maxTokens);
        }
        this.maxTokens = maxTokens;
    }

    public Vocabulary vocabulary() {
        return vocabulary;
    }

    public int maxTokens() {
        return maxTokens;
    }

    /**
     * @param answer the answer to append for training or scoring, or {@code null} to end at {@code assistant :}
     * @throws InvalidPromptException for unknown or reserved words, a blank question or answer, or a sequence
     *     longer than {@link #maxTokens()}
     */
    public EncodedPrompt encode(String question, String answer, int visionTokens) {
        Objects.requireNonNull(question, "question");
        if (visionTokens <= 0) {
            throw new IllegalArgumentException("visionTokens must be positive, got " + visionTokens);
        }
        int[] q = textIds(question, InvalidPromptException.Part.QUESTION);
        int[] a = answer == null ? new int[0] : textIds(answer, InvalidPromptException.Part.ANSWER);
        int marker = indexOf(q, Vocabulary.IMAGE);
        int words = marker < 0 ? q.length : q.length - 1;
        if (words == 0) {
            throw new InvalidPromptException(InvalidPromptException.Problem.BLANK, InvalidPromptException.Part.QUESTION,
                    "question is blank");
        }
        int length = 3 + visionTokens + words + 2 + (answer == null ? 0 : a.length + 1);
        if (length > maxTokens) {
            throw new InvalidPromptException(InvalidPromptException.Problem.TOO_LONG, InvalidPromptException.Part.SEQUENCE,
                    "prompt of " + length + " tokens (" + visionTokens + " vision, " + words
                    + " question, " + a.length + " answer, plus template) exceeds maxTokens=" + maxTokens);
        }
        int[] ids = new int[length];
        TokenModality[] modality = new TokenModality[length];
        Builder b = new Builder(ids, modality);
        b.add(Vocabulary.BOS, TokenModality.SYSTEM);
        b.add(vocabulary.id(Vocabulary.USER_WORD), TokenModality.SYSTEM);
        b.add(vocabulary.id(Vocabulary.COLON_WORD), TokenModality.SYSTEM);
        int imageStart = -1;
        for (int i = 0; i <= q.length; i++) {
            if (i == (marker < 0 ? q.length : marker)) {
                imageStart = b.position;
                for (int v = 0; v < visionTokens; v++) {
                    b.add(Vocabulary.IMAGE, TokenModality.VISION);
                }
            } else if (i < q.length) {
                b.add(q[i], TokenModality.PROMPT);
            }
        }
        b.add(vocabulary.id(Vocabulary.ASSISTANT_WORD), TokenModality.SYSTEM);
        b.add(vocabulary.id(Vocabulary.COLON_WORD), TokenModality.SYSTEM);
        int answerStart = b.position;
        if (answer != null) {
            for (int id : a) {
                b.add(id, TokenModality.ANSWER);
            }
            b.add(Vocabulary.EOS, TokenModality.ANSWER);
        }
        return new EncodedPrompt(ids, modality, imageStart, answerStart);
    }

    /** Only a question may carry an image marker, and at most one. */
    private int[] textIds(String text, InvalidPromptException.Part part) {
        String what = part.name().toLowerCase(java.util.Locale.ROOT);
        String[] words = text.strip().isEmpty() ? new String[0] : text.strip().split("\\s+");
        if (words.length == 0) {
            throw new InvalidPromptException(InvalidPromptException.Problem.BLANK, part, what + " is blank");
        }
        java.util.List<String> unknown = Arrays.stream(words).filter(w -> !vocabulary.contains(w)).distinct().toList();
        if (!unknown.isEmpty()) {
            throw new InvalidPromptException(InvalidPromptException.Problem.UNKNOWN_WORD, part, what + " has "
                    + (unknown.size() == 1 ? "an unknown word " : unknown.size() + " unknown words ")
                    + String.join(", ", unknown.subList(0, Math.min(5, unknown.size())).stream().map(w -> "'" + w + "'").toList())
                    + " (not in the " + vocabulary.size() + "-word vocabulary)");
        }
        int[] ids = vocabulary.encode(text);
        boolean question = part == InvalidPromptException.Part.QUESTION;
        long markers = Arrays.stream(ids).filter(id -> id == Vocabulary.IMAGE).count();
        if (markers > (question ? 1 : 0)) {
            throw new InvalidPromptException(InvalidPromptException.Problem.TEMPLATE_TOKEN, part, what + " '" + text
                    + "' has " + markers + " " + Vocabulary.IMAGE_WORD + " markers; "
                    + (question ? "at most one is allowed" : "none is allowed"));
        }
        if (Arrays.stream(ids).anyMatch(id -> id < Vocabulary.FIRST_TEXT_ID && id != Vocabulary.IMAGE)) {
            throw new InvalidPromptException(InvalidPromptException.Problem.TEMPLATE_TOKEN, part, what + " '" + text
                    + "' contains a reserved template token");
        }
        return ids;
    }

    private static int indexOf(int[] ids, int id) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] == id) {
                return i;
            }
        }
        return -1;
    }

    private static final class Builder {
        private final int[] ids;
        private final TokenModality[] modality;
        private int position;

        Builder(int[] ids, TokenModality[] modality) {
            this.ids = ids;
            this.modality = modality;
        }

        void add(int id, TokenModality m) {
            ids[position] = id;
            modality[position] = m;
            position++;
        }
    }
}
