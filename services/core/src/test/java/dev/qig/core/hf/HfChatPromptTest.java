package dev.qig.core.hf;

import static dev.qig.data.TokenModality.ANSWER;
import static dev.qig.data.TokenModality.PROMPT;
import static dev.qig.data.TokenModality.SYSTEM;
import static dev.qig.data.TokenModality.VISION;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qig.data.EncodedPrompt;
import dev.qig.data.InvalidPromptException;
import dev.qig.data.InvalidPromptException.Part;
import dev.qig.data.InvalidPromptException.Problem;
import dev.qig.data.TokenModality;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.function.Executable;

/**
 * Builds small but real {@code tokenizer.json} files (no downloads here): a word-level one with a
 * Llama-like post-processor that adds {@code <s>}, and a Qwen2-like byte-level BPE, and runs them with
 * the chat templates of llava-hf checkpoints.
 */
class HfChatPromptTest {

    /** llava-hf/llava-1.5-7b-hf {@code chat_template.json}. */
    static final String LLAVA_15 = "{% for message in messages %}{% if message['role'] != 'system' %}"
            + "{{ message['role'].upper() + ': '}}{% endif %}{# Render all images first #}"
            + "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\\n' }}"
            + "{% endfor %}{# Render all text next #}{% if message['role'] != 'assistant' %}"
            + "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}"
            + "{% endfor %}{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
            + "{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}{% endfor %}"
            + "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}";

    /** llava-hf LLaVA-OneVision (Qwen2) {@code chat_template.json}: ChatML with the image on its own line. */
    static final String CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n'}}"
            + "{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
            + "{{ '<image>\\n' }}{% endfor %}{# Render all video then #}"
            + "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}{{ '<video>\\n' }}"
            + "{% endfor %}{# Render all text next #}{% if message['role'] != 'assistant' %}"
            + "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}"
            + "{% endfor %}{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
            + "{% generation %}{{ content['text'] }}{% endgeneration %}{% endfor %}{% endif %}"
            + "{{'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /** The same ChatML output written as a multi-line .jinja file: correct only with trim_blocks and lstrip_blocks. */
    static final String CHATML_MULTILINE = """
            {% for message in messages %}
            <|im_start|>{{ message['role'] }}
              {% for content in message['content'] %}
                {% if content['type'] == 'image' %}
            <image>
                {% else %}
            {{ content['text'] }}<|im_end|>
                {% endif %}
              {% endfor %}
            {% endfor %}
            {% if add_generation_prompt %}
            <|im_start|>assistant
            {% endif %}
            """;

    // Word-level vocabulary; the special tokens are also added tokens, as in Llama's tokenizer.json.
    static final int UNK = 0, BOS = 1, EOS = 2, IMAGE = 3, IM_START = 4, IM_END = 5;
    static final int USER_UP = 6, ASSISTANT_UP = 7, COLON = 8, WHAT = 11, COLOR = 12, IS = 13, THE = 14,
            CIRCLE = 15, QMARK = 16, RED = 17;
    static final String[] WORDS = {"<unk>", "<s>", "</s>", "<image>", "<|im_start|>", "<|im_end|>", "USER",
        "ASSISTANT", ":", "user", "assistant", "what", "color", "is", "the", "circle", "?", "red", "blue"};

    // Byte-level BPE: ids 0-255 are the bytes (so 'a' is 97, ' ' is 'Ġ' = 32, '\n' is 'Ċ' = 10), then merges.
    static final int B_RED = 257, B_SPACE_RED = 258, B_USER = 261;
    static final int B_ENDOFTEXT = 262, B_IM_START = 263, B_IM_END = 264, B_IMAGE = 265;
    static final String[][] MERGES = {{"r", "e"}, {"re", "d"}, {"Ġ", "red"}, {"u", "s"}, {"us", "e"}, {"use", "r"}};
    static final String[] B_ADDED = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>"};
    static final int[] B_ASSISTANT = {'a', 's', 's', 'i', 's', 't', 'a', 'n', 't'};
    /** "is it red?" */
    static final int[] B_QUESTION = {'i', 's', ' ', 'i', 't', B_SPACE_RED, '?'};

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void llava15TurnHasExactIdsWithBosAndEos() throws IOException {
        try (HfChatPrompt p = llava15()) {
            EncodedPrompt e = p.encode("what color is the circle ?", "red", 3);
            assertArrayEquals(new int[] {BOS, USER_UP, COLON, IMAGE, IMAGE, IMAGE, WHAT, COLOR, IS, THE, CIRCLE, QMARK,
                ASSISTANT_UP, COLON, RED, EOS}, e.tokenIds());
            assertArrayEquals(new TokenModality[] {SYSTEM, SYSTEM, SYSTEM, VISION, VISION, VISION, PROMPT, PROMPT,
                PROMPT, PROMPT, PROMPT, PROMPT, SYSTEM, SYSTEM, ANSWER, ANSWER}, e.modality());
            assertEquals(3, e.imageStart());
            assertEquals(14, e.answerStart());
            assertEquals("USER: <image>\nwhat color is the circle ? ASSISTANT:",
                    p.renderedPrompt("what color is the circle ?", null));
            assertEquals("USER: <image>\nwhat color is the circle ? ASSISTANT: red ",
                    p.renderedPrompt("what color is the circle ?", "red"));
            assertArrayEquals(new int[] {EOS}, p.stopIds());
            assertEquals(IMAGE, p.imageTokenId());
        }
    }

    @Test
    void chatMlTurnHasExactByteLevelIds() throws IOException {
        try (HfChatPrompt p = qwen("config", CHATML)) {
            EncodedPrompt e = p.encode("is it red?", "red", 2);
            int[] expected = concat(new int[] {B_IM_START, B_USER, '\n', B_IMAGE, B_IMAGE, '\n'}, B_QUESTION,
                    new int[] {B_IM_END, '\n', B_IM_START}, B_ASSISTANT, new int[] {'\n', B_RED, B_IM_END, '\n'});
            assertArrayEquals(expected, e.tokenIds());
            List<TokenModality> modality = new ArrayList<>();
            modality.addAll(List.of(SYSTEM, SYSTEM, SYSTEM, VISION, VISION, SYSTEM));
            modality.addAll(List.of(PROMPT, PROMPT, PROMPT, PROMPT, PROMPT, PROMPT, PROMPT));
            modality.addAll(List.of(SYSTEM, SYSTEM, SYSTEM));
            modality.addAll(List.of(SYSTEM, SYSTEM, SYSTEM, SYSTEM, SYSTEM, SYSTEM, SYSTEM, SYSTEM, SYSTEM, SYSTEM));
            modality.addAll(List.of(ANSWER, ANSWER, ANSWER));
            assertArrayEquals(modality.toArray(new TokenModality[0]), e.modality());
            assertEquals(3, e.imageStart());
            assertEquals(26, e.answerStart());
            assertArrayEquals(new int[] {B_ENDOFTEXT, B_IM_END}, p.stopIds());
            assertEquals("red\n", p.decode(Arrays.copyOfRange(e.tokenIds(), e.answerStart(), e.length())));
            assertEquals("is it red?", p.decode(Arrays.copyOfRange(e.tokenIds(), 6, 13)));
        }
    }

    @Test
    void imageExpandsToConsecutiveCopiesInPlace() throws IOException {
        try (HfChatPrompt p = qwen("config", CHATML)) {
            EncodedPrompt one = p.encode("is it red?", "red", 1);
            for (int n : new int[] {1, 5, 17}) {
                EncodedPrompt e = p.encode("is it red?", "red", n);
                int[] ids = e.tokenIds();
                assertEquals(one.length() + n - 1, e.length());
                assertEquals(3, e.imageStart());
                assertEquals(one.answerStart() + n - 1, e.answerStart());
                for (int i = 0; i < ids.length; i++) {
                    boolean image = i >= 3 && i < 3 + n;
                    assertEquals(image, ids[i] == B_IMAGE, "position " + i);
                    assertEquals(image, e.modality()[i] == VISION, "position " + i);
                    int j = i < 3 ? i : image ? 3 : i - n + 1;
                    assertEquals(one.tokenIds()[j], ids[i], "position " + i);
                }
            }
        }
    }

    @Test
    void generationPromptEndsWithAssistantHeader() throws IOException {
        try (HfChatPrompt p = qwen("config", CHATML)) {
            EncodedPrompt e = p.encode("is it red?", null, 4);
            int[] ids = e.tokenIds();
            assertEquals(e.length(), e.answerStart());
            int[] tail = concat(new int[] {B_IM_END, '\n', B_IM_START}, B_ASSISTANT, new int[] {'\n'});
            assertArrayEquals(tail, Arrays.copyOfRange(ids, ids.length - tail.length, ids.length));
            assertTrue(Arrays.stream(e.modality()).noneMatch(m -> m == ANSWER));
            assertEquals(4, Arrays.stream(ids).filter(id -> id == B_IMAGE).count());
        }
        try (HfChatPrompt p = llava15()) {
            EncodedPrompt e = p.encode("what color is the circle ?", null, 2);
            assertArrayEquals(new int[] {BOS, USER_UP, COLON, IMAGE, IMAGE, WHAT, COLOR, IS, THE, CIRCLE, QMARK,
                ASSISTANT_UP, COLON}, e.tokenIds());
            assertEquals(13, e.answerStart());
        }
    }

    @Test
    void imageMarkerInQuestionPlacesTheImageThere() throws IOException {
        try (HfChatPrompt p = llava15()) {
            String q = "what color <image> is the circle ?";
            assertEquals("USER: what color <image> is the circle ? ASSISTANT:", p.renderedPrompt(q, null));
            EncodedPrompt e = p.encode(q, "red", 2);
            assertArrayEquals(new int[] {BOS, USER_UP, COLON, WHAT, COLOR, IMAGE, IMAGE, IS, THE, CIRCLE, QMARK,
                ASSISTANT_UP, COLON, RED, EOS}, e.tokenIds());
            assertArrayEquals(new TokenModality[] {SYSTEM, SYSTEM, SYSTEM, PROMPT, PROMPT, VISION, VISION, PROMPT,
                PROMPT, PROMPT, PROMPT, SYSTEM, SYSTEM, ANSWER, ANSWER}, e.modality());
            assertEquals(5, e.imageStart());
            assertEquals(13, e.answerStart());
        }
        try (HfChatPrompt p = qwen("config", CHATML)) {
            EncodedPrompt e = p.encode("is it <image> red?", null, 2);
            assertArrayEquals(new int[] {B_IM_START, B_USER, '\n', 'i', 's', ' ', 'i', 't', ' ', B_IMAGE, B_IMAGE,
                B_SPACE_RED, '?', B_IM_END}, Arrays.copyOfRange(e.tokenIds(), 0, 14));
            assertArrayEquals(new TokenModality[] {SYSTEM, SYSTEM, SYSTEM, PROMPT, PROMPT, PROMPT, PROMPT, PROMPT,
                PROMPT, VISION, VISION, PROMPT, PROMPT, SYSTEM}, Arrays.copyOfRange(e.modality(), 0, 14));
            assertEquals(9, e.imageStart());
        }
    }

    @Test
    void templateIsReadFromEachPlaceInHfOrder() throws IOException {
        String expected = "<|im_start|>user\n<image>\nis it red?<|im_end|>\n<|im_start|>assistant\n";
        String raising = "{{ raise_exception('this template must not be used') }}";
        for (String where : List.of("jinja", "json", "config")) {
            try (HfChatPrompt p = qwen(where, where.equals("jinja") ? CHATML_MULTILINE : CHATML)) {
                assertEquals(expected, p.renderedPrompt("is it red?", null), where);
                assertEquals(expected + "red<|im_end|>\n", p.renderedPrompt("is it red?", "red"), where);
            }
        }
        Path dir = qwenFolder("jinja", CHATML_MULTILINE);
        Files.writeString(dir.resolve("chat_template.json"), JSON.writeValueAsString(Map.of("chat_template", raising)));
        writeConfig(dir, Map.of("eos_token", "<|endoftext|>", "chat_template", raising));
        try (HfChatPrompt p = HfChatPrompt.fromFolder(dir, B_IMAGE, 64)) {
            assertEquals(expected, p.renderedPrompt("is it red?", null));
        }
        Files.delete(dir.resolve("chat_template.jinja"));
        Files.writeString(dir.resolve("chat_template.json"), JSON.writeValueAsString(Map.of("chat_template", CHATML)));
        try (HfChatPrompt p = HfChatPrompt.fromFolder(dir, B_IMAGE, 64)) {
            assertEquals(expected, p.renderedPrompt("is it red?", null));
        }
    }

    @Test
    void missingFilesAreNamed() throws IOException {
        Path noTokenizer = Files.createDirectories(tmp.resolve("no-tokenizer"));
        Files.writeString(noTokenizer.resolve("chat_template.jinja"), CHATML);
        IOException e = assertThrows(IOException.class, () -> HfChatPrompt.fromFolder(noTokenizer, IMAGE, 64));
        assertTrue(e.getMessage().contains("tokenizer.json"), e.getMessage());

        Path noTemplate = Files.createDirectories(tmp.resolve("no-template"));
        write(noTemplate.resolve("tokenizer.json"), wordLevel(false));
        writeConfig(noTemplate, Map.of("eos_token", "</s>"));
        e = assertThrows(IOException.class, () -> HfChatPrompt.fromFolder(noTemplate, IMAGE, 64));
        for (String file : List.of("chat_template.jinja", "chat_template.json", "tokenizer_config.json")) {
            assertTrue(e.getMessage().contains(file), e.getMessage());
        }
    }

    @Test
    void imageTokenMismatchFailsAtStart() throws IOException {
        Path dir = folder("mismatch", wordLevel(false), Map.of("eos_token", "</s>"), "json", CHATML);
        // <|im_end|> round-trips, but it is not what the template writes for the image.
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HfChatPrompt.fromFolder(dir, IM_END, 64));
        assertTrue(e.getMessage().contains("5") && e.getMessage().contains("<|im_end|>")
                && e.getMessage().contains("<image>"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> HfChatPrompt.fromFolder(dir, 999, 64));
        assertTrue(e.getMessage().contains("999") && e.getMessage().contains("'<image>' is id 3"), e.getMessage());
        HfChatPrompt.fromFolder(dir, IMAGE, 64).close();
    }

    @Test
    void invalidTextIsRefusedWithProblemAndPart() throws IOException {
        try (HfChatPrompt p = llava15(15)) {
            InvalidPromptException e = assertThrows(InvalidPromptException.class,
                    () -> p.encode("what color is the circle ?", "red", 5));
            assertEquals(Problem.TOO_LONG, e.problem());
            assertEquals(Part.SEQUENCE, e.part());
            assertTrue(e.getMessage().contains("18 tokens") && e.getMessage().contains("5 vision")
                    && e.getMessage().contains("6 question") && e.getMessage().contains("maxTokens=15"), e.getMessage());
            assertEquals(15, p.encode("what color is the circle ?", "red", 2).length());

            assertRefused(Problem.BLANK, Part.QUESTION, () -> p.encode("  ", "red", 1));
            assertRefused(Problem.BLANK, Part.QUESTION, () -> p.encode(" <image> ", "red", 1));
            assertRefused(Problem.BLANK, Part.ANSWER, () -> p.encode("what color ?", " \n", 1));
            assertRefused(Problem.TEMPLATE_TOKEN, Part.QUESTION, () -> p.encode("<image> what <image> color", null, 1));
            assertRefused(Problem.TEMPLATE_TOKEN, Part.ANSWER, () -> p.encode("what color ?", "red <image>", 1));
            assertRefused(Problem.TEMPLATE_TOKEN, Part.QUESTION, () -> p.encode("what </s> color ?", null, 1));
            assertRefused(Problem.TEMPLATE_TOKEN, Part.ANSWER, () -> p.encode("what color ?", "red<|im_end|>", 1));
            assertRefused(Problem.UNKNOWN_WORD, Part.QUESTION, () -> p.encode("what colour ?", null, 1));
            assertThrows(IllegalArgumentException.class, () -> p.encode("what color ?", null, 0));
        }
    }

    @Test
    void templateErrorsFailAtStart() throws IOException {
        Path raising = folder("raise", wordLevel(false), Map.of("eos_token", "</s>"), "jinja",
                "{% if messages[0]['role'] != 'system' %}{{ raise_exception('needs a system turn') }}{% endif %}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HfChatPrompt.fromFolder(raising, IMAGE, 64));
        assertTrue(e.getMessage().contains("needs a system turn"), e.getMessage());

        // The generation prompt ends "ASSISTANT: " but the answer turn starts "ASSISTANT:".
        Path unstable = folder("unstable", wordLevel(false), Map.of("eos_token", "</s>"), "jinja",
                LLAVA_15.replace("{{ 'ASSISTANT:' }}", "{{ 'ASSISTANT:  ' }}"));
        e = assertThrows(IllegalArgumentException.class, () -> HfChatPrompt.fromFolder(unstable, IMAGE, 64));
        assertTrue(e.getMessage().contains("prefix-stable"), e.getMessage());
    }

    // ---- fixtures ----

    private HfChatPrompt llava15() throws IOException {
        return llava15(64);
    }

    /** bos and eos written as {"content": ...} objects, as llava-1.5's tokenizer_config.json has them. */
    private HfChatPrompt llava15(int maxTokens) throws IOException {
        Map<String, Object> config = Map.of("bos_token", Map.of("content", "<s>", "special", true),
                "eos_token", Map.of("content", "</s>", "special", true));
        return HfChatPrompt.fromFolder(folder("llava15", wordLevel(true), config, "json", LLAVA_15), IMAGE, maxTokens);
    }

    private HfChatPrompt qwen(String where, String template) throws IOException {
        return HfChatPrompt.fromFolder(qwenFolder(where, template), B_IMAGE, 64);
    }

    private Path qwenFolder(String where, String template) throws IOException {
        return folder("qwen-" + where, byteLevel(), Map.of("eos_token", "<|endoftext|>"), where, template);
    }

    private Path folder(String name, ObjectNode tokenizer, Map<String, Object> config, String where, String template)
            throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(name + "-" + System.nanoTime()));
        write(dir.resolve("tokenizer.json"), tokenizer);
        Map<String, Object> cfg = new java.util.HashMap<>(config);
        switch (where) {
            case "jinja" -> Files.writeString(dir.resolve("chat_template.jinja"), template);
            case "json" -> write(dir.resolve("chat_template.json"), JSON.valueToTree(Map.of("chat_template", template)));
            case "config" -> cfg.put("chat_template", template);
            default -> throw new IllegalArgumentException(where);
        }
        writeConfig(dir, cfg);
        return dir;
    }

    private static void writeConfig(Path dir, Map<String, Object> config) throws IOException {
        write(dir.resolve("tokenizer_config.json"), JSON.valueToTree(config));
    }

    private static void write(Path file, Object json) throws IOException {
        Files.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(json));
    }

    /** WordLevel + Whitespace pre-tokenizer; with {@code bos}, a TemplateProcessing post-processor adding {@code <s>}. */
    static ObjectNode wordLevel(boolean bos) {
        ObjectNode root = header();
        ArrayNode added = root.putArray("added_tokens");
        for (int id = 0; id <= IM_END; id++) {
            added.add(addedToken(id, WORDS[id]));
        }
        root.putNull("normalizer");
        root.putObject("pre_tokenizer").put("type", "Whitespace");
        if (bos) {
            ObjectNode post = root.putObject("post_processor");
            post.put("type", "TemplateProcessing");
            ArrayNode single = post.putArray("single");
            single.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
            single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
            ArrayNode pair = post.putArray("pair");
            pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
            pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
            pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
            ObjectNode s = post.putObject("special_tokens").putObject("<s>");
            s.put("id", "<s>");
            s.putArray("ids").add(BOS);
            s.putArray("tokens").add("<s>");
        } else {
            root.putNull("post_processor");
        }
        root.putNull("decoder");
        ObjectNode model = root.putObject("model");
        model.put("type", "WordLevel");
        ObjectNode vocab = model.putObject("vocab");
        for (int id = 0; id < WORDS.length; id++) {
            vocab.put(WORDS[id], id);
        }
        model.put("unk_token", "<unk>");
        return root;
    }

    /** Qwen2-like: NFC, the Qwen2 split regex, ByteLevel without prefix space, BPE over the 256 byte symbols. */
    static ObjectNode byteLevel() {
        ObjectNode root = header();
        ArrayNode added = root.putArray("added_tokens");
        for (int i = 0; i < B_ADDED.length; i++) {
            added.add(addedToken(B_ENDOFTEXT + i, B_ADDED[i]));
        }
        root.putObject("normalizer").put("type", "NFC");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "Sequence");
        ArrayNode steps = pre.putArray("pretokenizers");
        ObjectNode split = steps.addObject();
        split.put("type", "Split");
        split.putObject("pattern").put("Regex", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
                + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");
        split.put("behavior", "Isolated");
        split.put("invert", false);
        steps.addObject().put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", false)
                .put("use_regex", false);
        root.putObject("post_processor").put("type", "ByteLevel").put("add_prefix_space", false)
                .put("trim_offsets", false).put("use_regex", false);
        root.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", false)
                .put("trim_offsets", false).put("use_regex", false);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        ObjectNode vocab = model.putObject("vocab");
        for (int b = 0; b < 256; b++) {
            vocab.put(byteSymbol(b), b);
        }
        ArrayNode merges = model.putArray("merges");
        for (int i = 0; i < MERGES.length; i++) {
            vocab.put(MERGES[i][0] + MERGES[i][1], 256 + i);
            merges.add(MERGES[i][0] + " " + MERGES[i][1]);
        }
        return root;
    }

    /** GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others map to 256, 257, ... in order. */
    static String byteSymbol(int b) {
        int shifted = 0;
        for (int x = 0; x <= b; x++) {
            boolean printable = (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF);
            if (x == b) {
                return String.valueOf((char) (printable ? b : 256 + shifted));
            }
            if (!printable) {
                shifted++;
            }
        }
        throw new AssertionError();
    }

    private static ObjectNode header() {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        return root;
    }

    private static ObjectNode addedToken(int id, String content) {
        ObjectNode t = JSON.createObjectNode();
        t.put("id", id);
        t.put("content", content);
        t.put("single_word", false);
        t.put("lstrip", false);
        t.put("rstrip", false);
        t.put("normalized", false);
        t.put("special", true);
        return t;
    }

    private static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(Arrays::stream).toArray();
    }

    private static void assertRefused(Problem problem, Part part, Executable call) {
        InvalidPromptException e = assertThrows(InvalidPromptException.class, call);
        assertEquals(problem, e.problem(), e.getMessage());
        assertEquals(part, e.part(), e.getMessage());
    }
}
