package dev.qig.core.vqa;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.qig.data.Domain;
import dev.qig.data.EncodedPrompt;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VisualQuestion;
import dev.qig.data.VqaSample;
import dev.qig.data.Vocabulary;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A question's encoding, made once where a sample is checked, is the one its batch uses. */
class EncodedQuestionTest {

    /** A FAKE processor in front of the test bed's: counts the encodings it is asked for. */
    private static final class CountingProcessor implements VqaProcessor {
        private final TestBedProcessor real = new TestBedProcessor(Vocabulary.standard(), 64, 48);
        int encodings;

        @Override
        public EncodedPrompt encode(String question, String answer, int visionTokens) {
            encodings++;
            return real.encode(question, answer, visionTokens);
        }

        @Override
        public int imageSide() {
            return real.imageSide();
        }

        @Override
        public float[] readImage(byte[] encoded) {
            return real.readImage(encoded);
        }

        @Override
        public float[] pixelValues(float[] image) {
            return real.pixelValues(image);
        }

        @Override
        public String token(int id) {
            return real.token(id);
        }

        @Override
        public boolean isStop(int id) {
            return real.isStop(id);
        }

        @Override
        public String answerText(int[] ids) {
            return real.answerText(ids);
        }

        @Override
        public int maxNewTokens() {
            return real.maxNewTokens();
        }
    }

    @Test
    void aBatchOfEncodedQuestionsEncodesNothingAgainAndReadsTheSameTokens() {
        List<VqaSample> samples = new SyntheticWorld().generate(Domain.CLEAN, 4, 11);
        CountingProcessor processor = new CountingProcessor();
        List<VisualQuestion> encoded = new ArrayList<>();
        for (VqaSample s : samples) {
            encoded.add(EncodedQuestion.encode(s, processor, 16));
        }
        assertEquals(4, processor.encodings);
        VqaBatch fromEncoded = VqaBatch.encode(encoded, processor, 16, true, 0);
        assertEquals(4, processor.encodings, "teacher forcing reuses the encodings");
        VqaBatch plain = VqaBatch.encode(samples, processor, 16, true, 0);
        assertEquals(8, processor.encodings);
        assertArrayEquals(plain.ids(), fromEncoded.ids());

        VqaBatch.encode(encoded, processor, 20, true, 0);
        assertEquals(12, processor.encodings, "another vision-token count encodes again");
        VqaBatch.encode(encoded, processor, 16, false, 4);
        assertEquals(16, processor.encodings, "a generation prompt (no answer) is encoded anew");
        VqaBatch.encode(encoded, new CountingProcessor(), 16, true, 0);
        assertEquals(16, processor.encodings, "another processor encodes with itself");
    }
}
