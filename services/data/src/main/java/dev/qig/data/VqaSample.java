package dev.qig.data;

import java.awt.image.BufferedImage;
import java.util.Arrays;
import java.util.Objects;

/**
 * One visual question with its answer. {@code image} is RGB in CHW order, {@code 3 x 48 x 48} floats in [0, 1]
 * (not normalized). The array is copied on the way in and out, so a sample is immutable.
 */
public record VqaSample(String id, Domain domain, QuestionType type, float[] image, String question,
        String answer) implements VisualQuestion {

    public VqaSample {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(domain, "domain");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(question, "question");
        Objects.requireNonNull(answer, "answer");
        ImageCodec.requireChw(image, SyntheticWorld.IMAGE_SIZE);
        image = image.clone();
        for (float v : image) {
            if (!(v >= 0f && v <= 1f)) {
                throw new IllegalArgumentException("sample " + id + ": pixel value " + v + " outside [0, 1]");
            }
        }
    }

    @Override
    public float[] image() {
        return image.clone();
    }

    public BufferedImage toImage() {
        return ImageCodec.toImage(image, SyntheticWorld.IMAGE_SIZE);
    }

    public byte[] toPng() {
        return ImageCodec.encodePng(image, SyntheticWorld.IMAGE_SIZE);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VqaSample s && id.equals(s.id) && domain == s.domain && type == s.type
                && Arrays.equals(image, s.image) && question.equals(s.question) && answer.equals(s.answer);
    }

    @Override
    public int hashCode() {
        return Objects.hash(id, domain, type, Arrays.hashCode(image), question, answer);
    }

    @Override
    public String toString() {
        return "VqaSample[" + id + ", " + domain.id() + ", " + type.id() + ": " + question + " -> " + answer + "]";
    }
}
