package dev.qig.data;

/**
 * What the model reads of a question: an image (RGB, CHW floats in [0, 1], the model's size), the
 * question and, for teacher forcing, the answer. {@link VqaSample} is the synthetic world's;
 * samples that arrive from a stream carry free-form domain tags and no question type.
 */
public interface VisualQuestion {

    String id();

    /** CHW floats in [0, 1]; a copy. */
    float[] image();

    String question();

    String answer();

    /** A question built from its parts (the image is copied in and out). */
    static VisualQuestion of(String id, float[] image, String question, String answer) {
        float[] pixels = image.clone();
        return new VisualQuestion() {
            @Override
            public String id() {
                return id;
            }

            @Override
            public float[] image() {
                return pixels.clone();
            }

            @Override
            public String question() {
                return question;
            }

            @Override
            public String answer() {
                return answer;
            }
        };
    }
}
