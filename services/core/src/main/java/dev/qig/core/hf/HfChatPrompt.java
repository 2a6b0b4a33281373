package dev.qig.core.hf;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import dev.qig.data.EncodedPrompt;
import dev.qig.data.InvalidPromptException;
import dev.qig.data.InvalidPromptException.Part;
import dev.qig.data.InvalidPromptException.Problem;
import dev.qig.data.TokenModality;
import java.beans.FeatureDescriptor;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * The token ids of one VQA turn for a Hugging Face LLaVA checkpoint, built the way transformers builds
 * them: the checkpoint's own chat template renders the conversation and its own {@code tokenizer.json}
 * tokenizes it, so a model fine-tuned or evaluated here sees exactly the sequences it was trained on.
 * Same contract as {@link dev.qig.data.PromptTemplate}: one {@code <image>} expanded to one id per
 * vision token, PROMPT for the question's tokens, ANSWER for the answer and the end-of-turn tokens after
 * it (the model must learn to stop), {@link InvalidPromptException} for text the template cannot take.
 *
 * <p>The template is read from {@code chat_template.jinja}, else {@code chat_template.json}, else the
 * {@code chat_template} field of {@code tokenizer_config.json}, and rendered with Jinjava configured as
 * transformers configures Jinja ({@code trim_blocks}, {@code lstrip_blocks}, one trailing newline of the
 * source dropped) plus what HF templates use: {@code raise_exception}, {@code strftime_now}, the
 * {@code {% generation %}} tag and the common Python string methods ({@code upper()}, {@code strip()}, ...).
 * The user message is {@code [{"type": "image"}, {"type": "text", "text": question}]}; a question that
 * carries its own {@code <image>} marker is sent as text only, so the image goes where the marker is.
 *
 * <p>The prompt is the template's generation prompt (no answer, {@code add_generation_prompt=true}); the
 * answer part is what the whole conversation adds after it, which the template must therefore render as
 * an extension of the prompt. Nothing is added by the tokenizer except, like the HF processor, its
 * {@code bos_token} when the tokenizer adds one and the template does not write it (LLaVA-1.5). When the
 * template writes no stop token after the answer (LLaVA-1.5 again), {@code eos_token} is appended, as
 * the original LLaVA training did.
 *
 * <p>Thread-safe. Holds a native tokenizer: {@link #close()} it.
 */
public final class HfChatPrompt implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TOKENIZER_FILE = "tokenizer.json";
    private static final String CONFIG_FILE = "tokenizer_config.json";
    private static final String TEMPLATE_FILE = "chat_template.jinja";
    private static final String TEMPLATE_JSON_FILE = "chat_template.json";
    private static final String[] SPECIAL_TOKEN_NAMES = {"bos_token", "eos_token", "unk_token", "pad_token"};
    /** Stands for the question when locating it in the rendered prompt; private-use code points. */
    private static final String SENTINEL = "\uE000qig-question\uE000";
    private static final String PROBE_QUESTION = "question";
    private static final String PROBE_ANSWER = "answer";
    private static final Jinjava JINJA = newJinjava();

    private final HuggingFaceTokenizer tokenizer;
    private final String template;
    private final String templateSource;
    private final Map<String, String> specialTokens;
    private final int imageTokenId;
    private final String imageToken;
    private final int maxTokens;
    /** Prepended when the tokenizer itself would add it and the template does not write it, else -1. */
    private final int autoBosId;
    private final int eosId;
    private final int[] stopIds;
    private final Map<Integer, Boolean> special = new ConcurrentHashMap<>();

    private HfChatPrompt(HuggingFaceTokenizer tokenizer, String template, String templateSource,
            Map<String, String> specialTokens, int imageTokenId, int maxTokens) {
        this.tokenizer = tokenizer;
        this.template = template;
        this.templateSource = templateSource;
        this.specialTokens = specialTokens;
        this.imageTokenId = imageTokenId;
        this.maxTokens = maxTokens;
        this.imageToken = tokenizer.decode(new long[] {imageTokenId}, false);
        long[] back = ids(imageToken);
        if (imageToken.isEmpty() || back.length != 1 || back[0] != imageTokenId) {
            long[] usual = ids("<image>");
            throw new IllegalArgumentException("image token id " + imageTokenId + " (config.json) is '" + imageToken
                    + "' in " + TOKENIZER_FILE + ", which encodes back to " + Arrays.toString(back) + ", not to ["
                    + imageTokenId + "]" + (usual.length == 1 ? "; '<image>' is id " + usual[0] : "")
                    + ": config.json and " + TOKENIZER_FILE + " do not belong together");
        }
        this.eosId = singleId(specialTokens.get("eos_token"));
        int bosId = singleId(specialTokens.get("bos_token"));
        long[] withSpecials = tokenizer.encode(imageToken, true, false).getIds();
        this.autoBosId = bosId >= 0 && withSpecials.length > 0 && withSpecials[0] == bosId ? bosId : -1;
        this.stopIds = probeStopIds();
    }

    /**
     * Loads {@code tokenizer.json}, {@code tokenizer_config.json} (optional: bos/eos tokens) and the chat
     * template of a checkpoint folder.
     *
     * @param imageTokenId {@code image_token_index} of the checkpoint's {@code config.json}
     * @param maxTokens limit on the whole encoded sequence, vision tokens included
     * @throws FileNotFoundException without {@code tokenizer.json} or a chat template
     * @throws IllegalArgumentException when the tokenizer does not map the image token to
     *     {@code imageTokenId}, or the template fails, renders no single image, is not prefix-stable or
     *     has no stop token
     */
    public static HfChatPrompt fromFolder(Path dir, int imageTokenId, int maxTokens) throws IOException {
        Objects.requireNonNull(dir, "dir");
        if (maxTokens <= 0) {
            throw new IllegalArgumentException("maxTokens must be positive, got " + maxTokens);
        }
        if (imageTokenId < 0) {
            throw new IllegalArgumentException("imageTokenId must be >= 0, got " + imageTokenId);
        }
        Path tokenizerFile = dir.resolve(TOKENIZER_FILE);
        if (!Files.isRegularFile(tokenizerFile)) {
            throw new FileNotFoundException(tokenizerFile + " not found: a Hugging Face checkpoint needs its fast"
                    + " tokenizer file " + TOKENIZER_FILE);
        }
        Path configFile = dir.resolve(CONFIG_FILE);
        JsonNode config = Files.isRegularFile(configFile) ? readJson(configFile) : JSON.createObjectNode();
        String[] found = findTemplate(dir, config);
        Map<String, String> specialTokens = new HashMap<>();
        for (String name : SPECIAL_TOKEN_NAMES) {
            JsonNode t = config.get(name);
            JsonNode content = t != null && t.isObject() ? t.get("content") : t;
            if (content != null && content.isTextual()) {
                specialTokens.put(name, content.asText());
            }
        }
        HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(tokenizerFile,
                Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
        try {
            return new HfChatPrompt(tokenizer, found[0], found[1], specialTokens, imageTokenId, maxTokens);
        } catch (RuntimeException e) {
            tokenizer.close();
            throw e;
        }
    }

    public int imageTokenId() {
        return imageTokenId;
    }

    /** Ids that end greedy generation: {@code eos_token} and the template's end-of-turn token if it has one. */
    public int[] stopIds() {
        return stopIds.clone();
    }

    /** Text of generated ids, special tokens skipped. */
    public String decode(int[] ids) {
        return tokenizer.decode(Arrays.stream(ids).asLongStream().toArray(), true);
    }

    /**
     * The template's output for display: the generation prompt without an answer, the whole conversation
     * with one; the image marker is not expanded.
     */
    public String renderedPrompt(String question, String answer) {
        Objects.requireNonNull(question, "question");
        boolean marker = question.contains(imageToken);
        return answer == null ? render(question, marker, null) : render(question, marker, answer);
    }

    /**
     * @param answer the answer to append for training or scoring, or {@code null} to end at the generation prompt
     * @throws InvalidPromptException for a blank question or answer, template tokens in them (more than one
     *     image marker in the question, any in the answer), a word the tokenizer maps to its unknown token, or
     *     a sequence longer than the {@code maxTokens} given at load
     */
    public EncodedPrompt encode(String question, String answer, int visionTokens) {
        Objects.requireNonNull(question, "question");
        if (visionTokens <= 0) {
            throw new IllegalArgumentException("visionTokens must be positive, got " + visionTokens);
        }
        int markers = occurrences(question, imageToken);
        if (markers > 1) {
            throw new InvalidPromptException(Problem.TEMPLATE_TOKEN, Part.QUESTION, "question '" + question + "' has "
                    + markers + " " + imageToken + " markers; at most one is allowed");
        }
        if (question.replace(imageToken, "").isBlank()) {
            throw new InvalidPromptException(Problem.BLANK, Part.QUESTION, "question is blank");
        }
        checkText(question, Part.QUESTION);
        if (answer != null) {
            if (answer.isBlank()) {
                throw new InvalidPromptException(Problem.BLANK, Part.ANSWER, "answer is blank");
            }
            if (answer.contains(imageToken)) {
                throw new InvalidPromptException(Problem.TEMPLATE_TOKEN, Part.ANSWER, "answer '" + answer + "' has "
                        + occurrences(answer, imageToken) + " " + imageToken + " markers; none is allowed");
            }
            checkText(answer, Part.ANSWER);
        }
        boolean inText = markers == 1;
        String prefix = render(question, inText, null);
        Encoding prefixEncoding = tokenizer.encode(prefix, false, false);
        long[] prefixIds = prefixEncoding.getIds();
        long[] answerIds = answer == null ? new long[0] : answerIds(prefix, render(question, inText, answer), prefixIds);
        int images = (int) Arrays.stream(prefixIds).filter(id -> id == imageTokenId).count();
        if (images != 1) {
            throw new IllegalArgumentException("chat template " + templateSource + " rendered " + images + " "
                    + imageToken + " tokens for one image: " + prefix);
        }
        boolean bos = autoBosId >= 0 && (prefixIds.length == 0 || prefixIds[0] != autoBosId);
        int length = (bos ? 1 : 0) + prefixIds.length - 1 + visionTokens + answerIds.length;
        TokenModality[] prefixModality = prefixModality(question, inText, prefix, prefixEncoding);
        if (length > maxTokens) {
            long words = Arrays.stream(prefixModality).filter(m -> m == TokenModality.PROMPT).count();
            throw new InvalidPromptException(Problem.TOO_LONG, Part.SEQUENCE, "prompt of " + length + " tokens ("
                    + visionTokens + " vision, " + words + " question, " + answerIds.length + " answer, plus "
                    + (length - visionTokens - words - answerIds.length) + " template) exceeds maxTokens=" + maxTokens);
        }
        int[] ids = new int[length];
        TokenModality[] modality = new TokenModality[length];
        int n = 0;
        if (bos) {
            ids[n] = autoBosId;
            modality[n++] = TokenModality.SYSTEM;
        }
        int imageStart = -1;
        for (int i = 0; i < prefixIds.length; i++) {
            if (prefixIds[i] == imageTokenId) {
                imageStart = n;
                Arrays.fill(ids, n, n + visionTokens, imageTokenId);
                Arrays.fill(modality, n, n + visionTokens, TokenModality.VISION);
                n += visionTokens;
            } else {
                ids[n] = (int) prefixIds[i];
                modality[n++] = prefixModality[i];
            }
        }
        int answerStart = n;
        for (long id : answerIds) {
            ids[n] = (int) id;
            modality[n++] = TokenModality.ANSWER;
        }
        return new EncodedPrompt(ids, modality, imageStart, answerStart);
    }

    @Override
    public void close() {
        tokenizer.close();
    }

    /**
     * The conversation's tokens after the prompt's when the prompt tokenizes the same inside it (what
     * {@code apply_chat_template} gives), else the rest of the text tokenized alone, so that training and
     * generation always share the prompt's tokens. Ends with {@code eos_token} when the template wrote no stop.
     */
    private long[] answerIds(String prefix, String full, long[] prefixIds) {
        if (!full.startsWith(prefix)) {
            throw new IllegalArgumentException("chat template " + templateSource + " is not prefix-stable: the"
                    + " conversation with the answer does not start with the generation prompt (prompt: "
                    + quote(prefix) + ", conversation: " + quote(full) + ")");
        }
        long[] fullIds = ids(full);
        long[] answerIds = fullIds.length >= prefixIds.length
                && Arrays.equals(fullIds, 0, prefixIds.length, prefixIds, 0, prefixIds.length)
                ? Arrays.copyOfRange(fullIds, prefixIds.length, fullIds.length)
                : ids(full.substring(prefix.length()));
        boolean stops = Arrays.stream(answerIds).anyMatch(id -> Arrays.stream(stopIds).anyMatch(s -> s == id));
        if (!stops && eosId >= 0) {
            answerIds = Arrays.copyOf(answerIds, answerIds.length + 1);
            answerIds[answerIds.length - 1] = eosId;
        }
        return answerIds;
    }

    /**
     * SYSTEM for template tokens, PROMPT for those overlapping the question's text (located by rendering a
     * sentinel in its place), VISION for the image; every non-special token is PROMPT if the question cannot
     * be located.
     */
    private TokenModality[] prefixModality(String question, boolean inText, String prefix, Encoding encoding) {
        long[] ids = encoding.getIds();
        CharSpan[] spans = encoding.getCharTokenSpans();
        int[] range = questionRange(question, inText, prefix);
        TokenModality[] modality = new TokenModality[ids.length];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] == imageTokenId) {
                modality[i] = TokenModality.VISION;
            } else if (isSpecial(ids[i])) {
                modality[i] = TokenModality.SYSTEM;
            } else if (range == null) {
                modality[i] = TokenModality.PROMPT;
            } else {
                CharSpan s = i < spans.length ? spans[i] : null;
                boolean inQuestion = s != null && s.getStart() < range[1] && s.getEnd() > range[0];
                modality[i] = inQuestion ? TokenModality.PROMPT : TokenModality.SYSTEM;
            }
        }
        return modality;
    }

    /** The question's span in the rendered prompt, in code points (the tokenizer's offsets), or null. */
    private int[] questionRange(String question, boolean inText, String prefix) {
        String probe = render(SENTINEL, inText, null);
        int at = probe.indexOf(SENTINEL);
        int start = -1;
        if (at >= 0 && prefix.startsWith(probe.substring(0, at)) && prefix.startsWith(question, at)) {
            start = at;
        } else if (prefix.indexOf(question) >= 0 && prefix.indexOf(question) == prefix.lastIndexOf(question)) {
            start = prefix.indexOf(question);
        }
        if (start < 0) {
            return null;
        }
        int end = start + question.length();
        return new int[] {prefix.codePointCount(0, start), prefix.codePointCount(0, end)};
    }

    /** Special tokens written in the text are template tokens; the unknown token stands for a word it lacks. */
    private void checkText(String text, Part part) {
        String what = part.name().toLowerCase(Locale.ROOT);
        Encoding e = tokenizer.encode(text, false, false);
        long[] ids = e.getIds();
        CharSpan[] spans = e.getCharTokenSpans();
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] == imageTokenId || !isSpecial(ids[i])) {
                continue;
            }
            String token = tokenizer.decode(new long[] {ids[i]}, false);
            String source = i < spans.length && spans[i] != null ? codePointSubstring(text, spans[i]) : "";
            if (source.equals(token)) {
                throw new InvalidPromptException(Problem.TEMPLATE_TOKEN, part, what + " '" + text
                        + "' contains the template token " + token);
            }
            throw new InvalidPromptException(Problem.UNKNOWN_WORD, part, what + " has an unknown word '" + source
                    + "' (the tokenizer maps it to " + token + ")");
        }
    }

    /**
     * Renders a probe conversation: checks that the template's image is the one {@code imageTokenId} token
     * and that the template is prefix-stable, and finds its end-of-turn token, the first special token it
     * writes after the answer.
     */
    private int[] probeStopIds() {
        String prefix = render(PROBE_QUESTION, false, null);
        String textOnly = render(PROBE_QUESTION, true, null);
        long withImage = Arrays.stream(ids(prefix)).filter(id -> id == imageTokenId).count();
        long without = Arrays.stream(ids(textOnly)).filter(id -> id == imageTokenId).count();
        if (withImage != 1 || without != 0) {
            throw new IllegalArgumentException("image token id " + imageTokenId + " (config.json) is '" + imageToken
                    + "' in " + TOKENIZER_FILE + ", but chat template " + templateSource + " renders the image as "
                    + quote(difference(prefix, textOnly)) + " (" + withImage + " such tokens with the image, "
                    + without + " without): config.json, " + TOKENIZER_FILE + " and the template do not belong together");
        }
        String full = render(PROBE_QUESTION, false, PROBE_ANSWER);
        if (!full.startsWith(prefix)) {
            throw new IllegalArgumentException("chat template " + templateSource + " is not prefix-stable: the"
                    + " conversation with the answer does not start with the generation prompt (prompt: "
                    + quote(prefix) + ", conversation: " + quote(full) + ")");
        }
        String rest = full.substring(prefix.length());
        int answerEnd = rest.lastIndexOf(PROBE_ANSWER);
        int endOfTurn = -1;
        if (answerEnd >= 0) {
            for (long id : ids(rest.substring(answerEnd + PROBE_ANSWER.length()))) {
                if (isSpecial(id) && id != autoBosId && id != eosId) {
                    endOfTurn = (int) id;
                    break;
                }
            }
        }
        int[] stops = Arrays.stream(new int[] {eosId, endOfTurn}).filter(id -> id >= 0).distinct().toArray();
        if (stops.length == 0) {
            throw new IllegalArgumentException("no stop token: " + CONFIG_FILE + " has no eos_token the tokenizer knows"
                    + " and chat template " + templateSource + " writes no special token after the answer");
        }
        return stops;
    }

    private String render(String question, boolean imageInText, String answer) {
        List<Object> content = new ArrayList<>();
        if (!imageInText) {
            content.add(Map.of("type", "image"));
        }
        content.add(Map.of("type", "text", "text", question));
        List<Object> messages = new ArrayList<>();
        messages.add(Map.of("role", "user", "content", content));
        if (answer != null) {
            messages.add(Map.of("role", "assistant", "content", List.of(Map.of("type", "text", "text", answer))));
        }
        Map<String, Object> context = new LinkedHashMap<>(specialTokens);
        context.put("messages", messages);
        context.put("add_generation_prompt", answer == null);
        RenderResult result = JINJA.renderForResult(template, context);
        List<String> errors = new ArrayList<>();
        for (TemplateError e : result.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                errors.add(raisedMessage(e));
            }
        }
        if (!errors.isEmpty()) {
            throw new IllegalArgumentException("chat template " + templateSource + " failed: " + String.join("; ", errors));
        }
        return result.getOutput();
    }

    private boolean isSpecial(long id) {
        return special.computeIfAbsent((int) id, k -> {
            long[] one = {k};
            return tokenizer.decode(one, true).isEmpty() && !tokenizer.decode(one, false).isEmpty();
        });
    }

    private long[] ids(String text) {
        return tokenizer.encode(text, false, false).getIds();
    }

    private int singleId(String token) {
        if (token == null) {
            return -1;
        }
        long[] ids = ids(token);
        return ids.length == 1 ? (int) ids[0] : -1;
    }

    /** [template text, where it came from], in transformers' order of preference. */
    private static String[] findTemplate(Path dir, JsonNode config) throws IOException {
        Path jinja = dir.resolve(TEMPLATE_FILE);
        if (Files.isRegularFile(jinja)) {
            return new String[] {jinjaSource(Files.readString(jinja)), jinja.toString()};
        }
        Path json = dir.resolve(TEMPLATE_JSON_FILE);
        if (Files.isRegularFile(json)) {
            JsonNode t = readJson(json).get("chat_template");
            if (t == null || !t.isTextual()) {
                throw new IllegalArgumentException(json + " has no \"chat_template\" string");
            }
            return new String[] {jinjaSource(t.asText()), json.toString()};
        }
        JsonNode t = config.get("chat_template");
        if (t != null && t.isArray()) {
            // Several named templates: transformers uses "default".
            JsonNode named = null;
            for (JsonNode item : t) {
                if ("default".equals(item.path("name").asText())) {
                    named = item.get("template");
                }
            }
            t = named;
        }
        if (t != null && t.isTextual()) {
            return new String[] {jinjaSource(t.asText()), dir.resolve(CONFIG_FILE) + " (chat_template)"};
        }
        throw new FileNotFoundException("no chat template in " + dir + ": looked for " + TEMPLATE_FILE + ", "
                + TEMPLATE_JSON_FILE + " and the chat_template field of " + CONFIG_FILE);
    }

    /** Jinja drops one trailing newline of a template ({@code keep_trailing_newline=False}); Jinjava keeps it. */
    private static String jinjaSource(String text) {
        return text.endsWith("\r\n") ? text.substring(0, text.length() - 2)
                : text.endsWith("\n") ? text.substring(0, text.length() - 1) : text;
    }

    private static JsonNode readJson(Path file) throws IOException {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new IOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static Jinjava newJinjava() {
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PythonStringMethods());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        Jinjava jinjava = new Jinjava(JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withElResolver(resolver)
                .build());
        jinjava.registerTag(new GenerationTag());
        jinjava.registerFunction(new ELFunctionDefinition("", "raise_exception", HfChatPrompt.class,
                "raiseException", String.class));
        jinjava.registerFunction(new ELFunctionDefinition("", "strftime_now", HfChatPrompt.class,
                "strftimeNow", String.class));
        return jinjava;
    }

    /** {@code raise_exception(msg)} of HF templates. Public for Jinjava's reflection only. */
    public static String raiseException(String message) {
        throw new TemplateRaisedException(message);
    }

    /** {@code strftime_now(format)} of HF templates (the common directives). Public for Jinjava only. */
    public static String strftimeNow(String format) {
        StringBuilder pattern = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 == format.length()) {
                pattern.append(c == '\'' ? "''" : Character.isLetter(c) ? "'" + c + "'" : String.valueOf(c));
                continue;
            }
            char d = format.charAt(++i);
            pattern.append(switch (d) {
                case 'Y' -> "yyyy";
                case 'y' -> "yy";
                case 'm' -> "MM";
                case 'd' -> "dd";
                case 'B' -> "MMMM";
                case 'b' -> "MMM";
                case 'A' -> "EEEE";
                case 'a' -> "EEE";
                case 'H' -> "HH";
                case 'M' -> "mm";
                case 'S' -> "ss";
                case '%' -> "%";
                default -> throw new IllegalArgumentException("strftime_now: unsupported directive %" + d);
            });
        }
        return LocalDateTime.now().format(DateTimeFormatter.ofPattern(pattern.toString(), Locale.US));
    }

    private static String raisedMessage(TemplateError e) {
        for (Throwable t = e.getException(); t != null; t = t.getCause()) {
            if (t instanceof TemplateRaisedException) {
                return "raise_exception('" + t.getMessage() + "')";
            }
        }
        return e.getMessage() + (e.getLineno() > 0 ? " (line " + e.getLineno() + ")" : "");
    }

    private static int occurrences(String text, String token) {
        int n = 0;
        for (int at = text.indexOf(token); at >= 0; at = text.indexOf(token, at + token.length())) {
            n++;
        }
        return n;
    }

    /** What {@code longer} has in place of {@code shorter}'s middle: the text between their common ends. */
    private static String difference(String longer, String shorter) {
        int head = 0;
        while (head < Math.min(longer.length(), shorter.length()) && longer.charAt(head) == shorter.charAt(head)) {
            head++;
        }
        int tail = 0;
        while (tail < Math.min(longer.length(), shorter.length()) - head
                && longer.charAt(longer.length() - 1 - tail) == shorter.charAt(shorter.length() - 1 - tail)) {
            tail++;
        }
        return longer.substring(head, longer.length() - tail);
    }

    private static String codePointSubstring(String text, CharSpan span) {
        int cps = text.codePointCount(0, text.length());
        int start = Math.min(span.getStart(), cps);
        int end = Math.min(Math.max(span.getEnd(), start), cps);
        return text.substring(text.offsetByCodePoints(0, start), text.offsetByCodePoints(0, end));
    }

    private static String quote(String text) {
        String s = text.length() > 200 ? "..." + text.substring(text.length() - 200) : text;
        return "'" + s.replace("\n", "\\n") + "'";
    }

    private static final class TemplateRaisedException extends RuntimeException {
        TemplateRaisedException(String message) {
            super(message);
        }
    }

    /** transformers' {@code {% generation %}} marks the assistant's text for masks; it renders its body. */
    private static final class GenerationTag implements Tag {
        @Override
        public String getName() {
            return "generation";
        }

        @Override
        public String getEndTagName() {
            return "endgeneration";
        }

        @Override
        public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
            StringBuilder out = new StringBuilder();
            for (Node child : tagNode.getChildren()) {
                out.append(child.render(interpreter).getValue());
            }
            return out.toString();
        }
    }

    /** Python {@code str} methods HF templates call ({@code role.upper()}); Java has other names for them. */
    private static final class PythonStringMethods extends ELResolver {
        @Override
        public Object invoke(ELContext context, Object base, Object method, Class<?>[] types, Object[] params) {
            if (!(base instanceof String s) || method == null) {
                return null;
            }
            Object[] p = params == null ? new Object[0] : params;
            String arg = p.length > 0 && p[0] != null ? p[0].toString() : null;
            Object result = switch (method.toString()) {
                case "upper" -> s.toUpperCase(Locale.ROOT);
                case "lower" -> s.toLowerCase(Locale.ROOT);
                case "strip" -> strip(s, arg, true, true);
                case "lstrip" -> strip(s, arg, true, false);
                case "rstrip" -> strip(s, arg, false, true);
                case "startswith" -> arg != null && s.startsWith(arg);
                case "endswith" -> arg != null && s.endsWith(arg);
                case "capitalize" -> s.isEmpty() ? s
                        : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
                case "title" -> title(s);
                case "split" -> arg == null ? Arrays.stream(s.strip().split("\\s+")).filter(w -> !w.isEmpty()).toList()
                        : List.of(s.split(Pattern.quote(arg), -1));
                default -> null;
            };
            if (result != null) {
                context.setPropertyResolved(true);
            }
            return result;
        }

        private static String strip(String s, String chars, boolean left, boolean right) {
            int start = 0;
            int end = s.length();
            while (left && start < end && (chars == null ? Character.isWhitespace(s.charAt(start))
                    : chars.indexOf(s.charAt(start)) >= 0)) {
                start++;
            }
            while (right && end > start && (chars == null ? Character.isWhitespace(s.charAt(end - 1))
                    : chars.indexOf(s.charAt(end - 1)) >= 0)) {
                end--;
            }
            return s.substring(start, end);
        }

        private static String title(String s) {
            StringBuilder out = new StringBuilder(s.length());
            boolean start = true;
            for (char c : s.toCharArray()) {
                out.append(start ? Character.toUpperCase(c) : Character.toLowerCase(c));
                start = !Character.isLetter(c);
            }
            return out.toString();
        }

        @Override
        public Object getValue(ELContext context, Object base, Object property) {
            return null;
        }

        @Override
        public Class<?> getType(ELContext context, Object base, Object property) {
            return null;
        }

        @Override
        public void setValue(ELContext context, Object base, Object property, Object value) {
        }

        @Override
        public boolean isReadOnly(ELContext context, Object base, Object property) {
            return true;
        }

        @Override
        public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
            return null;
        }

        @Override
        public Class<?> getCommonPropertyType(ELContext context, Object base) {
            return null;
        }
    }
}
