package dev.qig.core.vqa;

import dev.qig.data.EncodedPrompt;

/**
 * What turns a question into what a model reads and its output back into an answer, as a Hugging
 * Face processor does: the chat template and tokenizer, and the image preprocessing. The test-bed
 * model has its own ({@link TestBedProcessor}); a Hugging Face checkpoint brings its tokenizer, chat
 * template and preprocessor config ({@code dev.qig.core.hf.HfProcessor}).
 */
public interface VqaProcessor {

    /**
     * The tokens of one turn: the question with {@code visionTokens} image placeholders, and the
     * answer (teacher forcing) or, when {@code answer} is null, the prompt for generation.
     *
     * @throws dev.qig.data.InvalidPromptException for text the model cannot read
     */
    EncodedPrompt encode(String question, String answer, int visionTokens);

    /** Side of the square image the model reads, in pixels (what {@link #readImage} returns). */
    int imageSide();

    /**
     * Decodes PNG or JPEG bytes and resizes them as the model's image processor does: CHW floats in
     * [0, 1] of {@link #imageSide()} squared.
     *
     * @throws dev.qig.data.InvalidImageException for bytes that are no usable image
     */
    float[] readImage(byte[] encoded);

    /**
     * The pixel values the vision tower reads, CHW of {@link #imageSide()} squared, for a square CHW
     * image in [0, 1]: one from {@link #readImage}, or one of another side (a synthetic scene), which
     * a Hugging Face processor resizes as it would the same image's PNG.
     *
     * @throws IllegalArgumentException for an image this processor cannot take
     */
    float[] pixelValues(float[] image);

    /** Text of one token, for displays of per-token attributions. */
    String token(int id);

    /** Whether generation ends at this token. */
    boolean isStop(int id);

    /** The answer text of generated token ids (the stop token excluded). */
    String answerText(int[] ids);

    /** Longest answer generated, in tokens. */
    int maxNewTokens();
}
