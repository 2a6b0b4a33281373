package dev.qig.core.hf;

import dev.qig.io.CheckpointException;
import dev.qig.data.EncodedPrompt;
import dev.qig.data.ImageCodec;
import dev.qig.core.model.LvlmConfig;
import dev.qig.core.vqa.VqaProcessor;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A Hugging Face checkpoint's processor, as {@code LlavaProcessor} composes it: the checkpoint's
 * tokenizer and chat template ({@link HfChatPrompt}) and its image processor ({@link HfImageProcessor},
 * from {@code preprocessor_config.json}). The image processor's output must be the square the
 * vision tower was built for; anything else is refused at start.
 */
public final class HfProcessor implements VqaProcessor, AutoCloseable {

    /** Longest answer generated, in tokens: short VQA answers and the end-of-turn token. */
    public static final int MAX_NEW_TOKENS = 16;

    private final HfChatPrompt prompt;
    private final HfImageProcessor images;

    private HfProcessor(HfChatPrompt prompt, HfImageProcessor images) {
        this.prompt = prompt;
        this.images = images;
    }

    public static HfProcessor fromFolder(Path dir, LvlmConfig config) throws IOException {
        HfImageProcessor images;
        try {
            images = HfImageProcessor.fromFolder(dir);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(dir.resolve("preprocessor_config.json"), null, e.getMessage());
        }
        if (images.height() != config.imageSize() || images.width() != config.imageSize()) {
            throw new CheckpointException(dir.resolve("preprocessor_config.json"), "size",
                    "gives " + images.width() + "x" + images.height() + " images, but the vision tower reads "
                            + config.imageSize() + "x" + config.imageSize());
        }
        try {
            return new HfProcessor(HfChatPrompt.fromFolder(dir, config.imageTokenId(), config.maxPositions()), images);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(dir, null, e.getMessage());
        }
    }

    /** The chat prompt, for displays of the rendered template. */
    public HfChatPrompt chatPrompt() {
        return prompt;
    }

    @Override
    public EncodedPrompt encode(String question, String answer, int visionTokens) {
        return prompt.encode(question, answer, visionTokens);
    }

    @Override
    public int imageSide() {
        return images.width();
    }

    @Override
    public float[] readImage(byte[] encoded) {
        return images.rescaled(ImageCodec.read(encoded));
    }

    @Override
    public float[] pixelValues(float[] image) {
        int side = (int) Math.round(Math.sqrt(image.length / 3.0));
        if (3 * side * side != image.length) {
            throw new IllegalArgumentException("image of " + image.length + " values is not a square CHW image");
        }
        if (side == imageSide()) {
            // Already this processor's output: resizing to the same size and cropping to it change nothing.
            return images.normalize(image);
        }
        return images.pixelValues(ImageCodec.toImage(image, side));
    }

    @Override
    public String token(int id) {
        return prompt.decode(new int[] {id});
    }

    @Override
    public boolean isStop(int id) {
        for (int stop : prompt.stopIds()) {
            if (stop == id) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String answerText(int[] ids) {
        return prompt.decode(ids).strip();
    }

    @Override
    public int maxNewTokens() {
        return MAX_NEW_TOKENS;
    }

    @Override
    public void close() {
        prompt.close();
    }
}
