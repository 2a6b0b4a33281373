package dev.qig.core.vqa;

import dev.qig.data.EncodedPrompt;
import dev.qig.data.ImageCodec;
import dev.qig.data.PromptTemplate;
import dev.qig.data.Vocabulary;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The test-bed model's processor: its word vocabulary and chat template, images stretched to the
 * model's side by area averaging and scaled to [-1, 1], answers of at most two words.
 */
public final class TestBedProcessor implements VqaProcessor {

    /** Longest answer generated: two words and {@code <eos>}. */
    public static final int MAX_NEW_TOKENS = 3;

    private final Vocabulary vocabulary;
    private final PromptTemplate template;
    private final int imageSide;

    public TestBedProcessor(Vocabulary vocabulary, int maxTokens, int imageSide) {
        this.vocabulary = vocabulary;
        this.template = new PromptTemplate(vocabulary, maxTokens);
        this.imageSide = imageSide;
    }

    public Vocabulary vocabulary() {
        return vocabulary;
    }

    public PromptTemplate template() {
        return template;
    }

    @Override
    public EncodedPrompt encode(String question, String answer, int visionTokens) {
        return template.encode(question, answer, visionTokens);
    }

    @Override
    public int imageSide() {
        return imageSide;
    }

    @Override
    public float[] readImage(byte[] encoded) {
        return ImageCodec.decode(encoded, imageSide);
    }

    @Override
    public float[] pixelValues(float[] image) {
        if (image.length != 3 * imageSide * imageSide) {
            throw new IllegalArgumentException("image has " + image.length + " values, expected " + 3 * imageSide * imageSide);
        }
        float[] out = new float[image.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = image[i] * 2f - 1f;
        }
        return out;
    }

    @Override
    public String token(int id) {
        return vocabulary.word(id);
    }

    @Override
    public boolean isStop(int id) {
        return id == Vocabulary.EOS;
    }

    @Override
    public String answerText(int[] ids) {
        return Arrays.stream(ids).mapToObj(vocabulary::word).collect(Collectors.joining(" "));
    }

    @Override
    public int maxNewTokens() {
        return MAX_NEW_TOKENS;
    }
}
