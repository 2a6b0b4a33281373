package dev.qig.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Fixed word-level vocabulary: the special tokens, the chat-template words, then every word a question or answer
 * of the synthetic world can contain, in sorted order. Built from the enums and question templates, so it
 * cannot drift from the generator.
 */
public final class Vocabulary {

    public static final int PAD = 0;
    public static final int BOS = 1;
    public static final int EOS = 2;
    public static final int IMAGE = 3;

    public static final String PAD_WORD = "<pad>";
    public static final String BOS_WORD = "<bos>";
    public static final String EOS_WORD = "<eos>";
    public static final String IMAGE_WORD = "<image>";
    public static final String USER_WORD = "user";
    public static final String COLON_WORD = ":";
    public static final String ASSISTANT_WORD = "assistant";

    /** Ids below this are special or chat-template tokens and never appear inside a question or answer. */
    public static final int FIRST_TEXT_ID = 7;

    private static final Vocabulary STANDARD = new Vocabulary(standardWords());

    private final List<String> words;
    private final Map<String, Integer> ids = new HashMap<>();

    private Vocabulary(List<String> words) {
        this.words = List.copyOf(words);
        for (int i = 0; i < words.size(); i++) {
            if (ids.put(words.get(i), i) != null) {
                throw new IllegalStateException("duplicate vocabulary word '" + words.get(i) + "'");
            }
        }
    }

    public static Vocabulary standard() {
        return STANDARD;
    }

    /**
     * A vocabulary read from a checkpoint (line number = token id). Its special tokens must sit at
     * the ids the prompt template and the model assume.
     */
    public static Vocabulary of(List<String> words) {
        List<String> special = List.of(PAD_WORD, BOS_WORD, EOS_WORD, IMAGE_WORD);
        if (words.size() < special.size() || !words.subList(0, special.size()).equals(special)) {
            throw new IllegalArgumentException("vocabulary must start with " + special + ", got "
                    + words.subList(0, Math.min(words.size(), special.size())));
        }
        try {
            return new Vocabulary(words);
        } catch (IllegalStateException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    public int size() {
        return words.size();
    }

    public boolean contains(String word) {
        return ids.containsKey(word);
    }

    /** @throws IllegalArgumentException naming the word if it is not in the vocabulary */
    public int id(String word) {
        Integer id = ids.get(word);
        if (id == null) {
            throw new IllegalArgumentException("unknown word '" + word + "' (not in the " + size() + "-word vocabulary)");
        }
        return id;
    }

    public String word(int id) {
        if (id < 0 || id >= words.size()) {
            throw new IllegalArgumentException("token id " + id + " outside vocabulary [0, " + size() + ")");
        }
        return words.get(id);
    }

    /** Splits on whitespace and maps each word to its id; blank text gives an empty array. */
    public int[] encode(String text) {
        String stripped = text.strip();
        if (stripped.isEmpty()) {
            return new int[0];
        }
        return Arrays.stream(stripped.split("\\s+")).mapToInt(this::id).toArray();
    }

    /** Words joined by single spaces, special tokens included. */
    public String decode(int[] tokenIds) {
        return Arrays.stream(tokenIds).mapToObj(this::word).collect(Collectors.joining(" "));
    }

    public List<String> words() {
        return words;
    }

    private static List<String> standardWords() {
        List<String> fixed = List.of(PAD_WORD, BOS_WORD, EOS_WORD, IMAGE_WORD, USER_WORD, COLON_WORD, ASSISTANT_WORD);
        SortedSet<String> text = new TreeSet<>();
        for (String template : QuestionSampler.TEMPLATES) {
            for (String token : template.split(" ")) {
                if (!token.startsWith("{")) {
                    text.add(token);
                }
            }
        }
        for (Relation r : Relation.values()) {
            text.addAll(List.of(r.phrase().split(" ")));
        }
        for (ShapeKind s : ShapeKind.values()) {
            text.add(s.word());
            text.add(s.plural());
        }
        for (ColorName c : ColorName.values()) {
            text.add(c.word());
        }
        for (SizeClass s : SizeClass.values()) {
            text.add(s.word());
        }
        text.addAll(QuestionSampler.NUMBER_WORDS);
        text.add(QuestionSampler.YES);
        text.add(QuestionSampler.NO);
        text.removeAll(fixed);
        List<String> all = new ArrayList<>(fixed);
        all.addAll(text);
        return all;
    }
}
