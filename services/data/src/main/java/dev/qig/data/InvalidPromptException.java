package dev.qig.data;

/**
 * Text the chat template cannot encode, with what is wrong in a form callers can act on (a stream
 * puts {@link #problem()} on the dead letter).
 */
public class InvalidPromptException extends IllegalArgumentException {

    /** What is wrong. */
    public enum Problem {
        /** No words. */
        BLANK,
        /** A word outside the model's vocabulary. */
        UNKNOWN_WORD,
        /** A template token where none may be ({@code <bos>}, {@code <eos>}, {@code <pad>}, or a second {@code <image>}). */
        TEMPLATE_TOKEN,
        /** Longer than the model's context. */
        TOO_LONG
    }

    /** Which text: the question, the answer, or the whole encoded sequence. */
    public enum Part { QUESTION, ANSWER, SEQUENCE }

    private final Problem problem;
    private final Part part;

    public InvalidPromptException(Problem problem, Part part, String message) {
        super(message);
        this.problem = problem;
        this.part = part;
    }

    public Problem problem() {
        return problem;
    }

    public Part part() {
        return part;
    }
}
