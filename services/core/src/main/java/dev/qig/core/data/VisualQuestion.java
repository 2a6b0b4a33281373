package dev.qig.core.data;

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
}
