package dev.qig.core.vqa;

import dev.qig.data.EncodedPrompt;
import dev.qig.data.VisualQuestion;
import java.util.Objects;

/**
 * A question together with its prompt as one processor encoded it (with the answer, for teacher
 * forcing): a service that encodes a sample to check it hands the encoding on, so that the batch
 * and the attribution records do not encode the same text again. The encoding is used only with
 * the processor and vision-token count it was made with; any other asks the processor.
 */
public final class EncodedQuestion implements VisualQuestion {

    private final VisualQuestion question;
    private final VqaProcessor processor;
    private final int visionTokens;
    private final EncodedPrompt prompt;

    /** Encodes {@code question} with its answer; throws what {@link VqaProcessor#encode} throws. */
    public static EncodedQuestion encode(VisualQuestion question, VqaProcessor processor, int visionTokens) {
        return new EncodedQuestion(question, processor, visionTokens,
                processor.encode(question.question(), question.answer(), visionTokens));
    }

    /**
     * {@code question} with an encoding already made: {@code prompt} must be what {@code
     * processor.encode(question.question(), question.answer(), visionTokens)} returned for it.
     */
    public static EncodedQuestion of(VisualQuestion question, VqaProcessor processor, int visionTokens,
                                     EncodedPrompt prompt) {
        return new EncodedQuestion(question, processor, visionTokens, prompt);
    }

    private EncodedQuestion(VisualQuestion question, VqaProcessor processor, int visionTokens, EncodedPrompt prompt) {
        this.question = Objects.requireNonNull(question, "question");
        this.processor = Objects.requireNonNull(processor, "processor");
        this.visionTokens = visionTokens;
        this.prompt = Objects.requireNonNull(prompt, "prompt");
    }

    /** {@code q}'s prompt with its answer as {@code processor} encodes it: the one carried when it matches, else a new one. */
    public static EncodedPrompt withAnswer(VisualQuestion q, VqaProcessor processor, int visionTokens) {
        if (q instanceof EncodedQuestion e && e.processor == processor && e.visionTokens == visionTokens) {
            return e.prompt;
        }
        return processor.encode(q.question(), q.answer(), visionTokens);
    }

    @Override
    public String id() {
        return question.id();
    }

    @Override
    public float[] image() {
        return question.image();
    }

    @Override
    public String question() {
        return question.question();
    }

    @Override
    public String answer() {
        return question.answer();
    }
}
