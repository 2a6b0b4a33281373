package dev.qig.core.hf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qig.data.Vocabulary;
import dev.qig.core.model.LvlmConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a tokenizer and a ChatML chat template into a checkpoint folder that has none: a
 * Hugging Face {@code WordLevel} tokenizer over the synthetic world's words, with Qwen2's special
 * tokens and {@code <image>} at the config's image token id. For random-weight checkpoints (the
 * golden fixtures, the real-size bench checkpoint) that carry no tokenizer, so that the services
 * can run them on the synthetic samples. It is labelled as what it is in {@code tokenizer_config.json};
 * a real checkpoint keeps its own tokenizer.
 */
public final class TestBedTokenizer {

    /** The ChatML template of llava-hf's Qwen2 LLaVA checkpoints: images first, each on its own line. */
    public static final String CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n'}}"
            + "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\\n' }}{% endfor %}"
            + "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}"
            + "{{'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    private static final List<String> SPECIALS = List.of("<|endoftext|>", "<|im_start|>", "<|im_end|>");
    private static final ObjectMapper JSON = new ObjectMapper();

    private TestBedTokenizer() {}

    /** Writes tokenizer.json, tokenizer_config.json and chat_template.jinja for the model of {@code config}. */
    public static void write(Path dir, LvlmConfig config) throws IOException {
        int image = config.imageTokenId();
        if (image >= config.vocabSize()) {
            throw new IllegalArgumentException("image token id " + image + " is past the vocabulary of " + config.vocabSize());
        }
        List<String> words = new ArrayList<>(List.of("<unk>"));
        words.addAll(SPECIALS);
        words.addAll(List.of("user", "assistant"));
        for (String w : Vocabulary.standard().words()) {
            if (!w.startsWith("<") && !w.equals(":") && !words.contains(w)) {
                words.add(w);
            }
        }
        Map<String, Integer> vocab = new LinkedHashMap<>();
        int next = 0;
        for (String w : words) {
            if (next == image) {
                next++;
            }
            vocab.put(w, next++);
        }
        vocab.put("<image>", image);
        if (next > config.vocabSize()) {
            throw new IllegalArgumentException("the synthetic world needs " + next + " token ids; the model has " + config.vocabSize());
        }

        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (String special : List.of("<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>")) {
            ObjectNode t = added.addObject();
            t.put("id", vocab.get(special));
            t.put("content", special);
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", false);
            t.put("special", true);
        }
        root.putNull("normalizer");
        root.putObject("pre_tokenizer").put("type", "WhitespaceSplit");
        root.putNull("post_processor");
        root.putObject("decoder").put("type", "WordPiece").put("prefix", "##").put("cleanup", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "WordLevel");
        ObjectNode v = model.putObject("vocab");
        vocab.forEach(v::put);
        model.put("unk_token", "<unk>");
        Files.writeString(dir.resolve("tokenizer.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root),
                StandardCharsets.UTF_8);

        ObjectNode tokenizerConfig = JSON.createObjectNode();
        tokenizerConfig.put("tokenizer_class", "PreTrainedTokenizerFast");
        tokenizerConfig.put("qig_note", "written by qig-stream for a random-weight checkpoint: the synthetic world's words, not a real tokenizer");
        tokenizerConfig.putNull("bos_token");
        tokenizerConfig.put("eos_token", "<|im_end|>");
        tokenizerConfig.put("pad_token", "<|endoftext|>");
        tokenizerConfig.put("unk_token", "<unk>");
        Files.writeString(dir.resolve("tokenizer_config.json"),
                JSON.writerWithDefaultPrettyPrinter().writeValueAsString(tokenizerConfig), StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("chat_template.jinja"), CHATML, StandardCharsets.UTF_8);
    }
}
