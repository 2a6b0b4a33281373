package dev.qig.data;

import static dev.qig.data.TokenModality.ANSWER;
import static dev.qig.data.TokenModality.PAD;
import static dev.qig.data.TokenModality.PROMPT;
import static dev.qig.data.TokenModality.SYSTEM;
import static dev.qig.data.TokenModality.VISION;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class PromptTemplateTest {

    private final PromptTemplate template = new PromptTemplate();
    private final Vocabulary v = Vocabulary.standard();

    @Test
    void trainingPromptHasTemplateQuestionImageAndAnswerInOrder() {
        EncodedPrompt p = template.encode("what is the red object ?", "large circle", 4);
        assertEquals("<bos> user : what is the red object ? <image> <image> <image> <image> assistant : large circle <eos>",
                v.decode(p.tokenIds()));
        assertArrayEquals(new TokenModality[] {SYSTEM, SYSTEM, SYSTEM, PROMPT, PROMPT, PROMPT, PROMPT, PROMPT, PROMPT,
                VISION, VISION, VISION, VISION, SYSTEM, SYSTEM, ANSWER, ANSWER, ANSWER}, p.modality());
        assertEquals(9, p.imageStart());
        assertEquals(15, p.answerStart());
        assertEquals(v.id("large"), p.tokenIds()[p.answerStart()]);
        assertEquals(18, p.length());
    }

    @Test
    void generationPromptEndsAfterAssistantColon() {
        EncodedPrompt p = template.encode("is there a blue cross ?", null, 16);
        int[] ids = p.tokenIds();
        assertEquals(p.length(), p.answerStart());
        assertEquals(v.id(":"), ids[ids.length - 1]);
        assertEquals(v.id("assistant"), ids[ids.length - 2]);
        assertEquals(16, Arrays.stream(ids).filter(id -> id == Vocabulary.IMAGE).count());
        assertTrue(Arrays.stream(p.modality()).noneMatch(m -> m == ANSWER));
    }

    @Test
    void paddingAppendsPadTokensAndKeepsPositions() {
        EncodedPrompt p = template.encode("is there a blue cross ?", "no", 16);
        EncodedPrompt padded = p.padTo(40);
        assertEquals(40, padded.length());
        assertEquals(p.answerStart(), padded.answerStart());
        for (int i = 0; i < 40; i++) {
            boolean pad = i >= p.length();
            assertEquals(pad ? Vocabulary.PAD : p.tokenIds()[i], padded.tokenIds()[i]);
            assertEquals(pad ? PAD : p.modality()[i], padded.modality()[i]);
        }
        assertThrows(IllegalArgumentException.class, () -> p.padTo(p.length() - 1));
    }

    @Test
    void rejectsOversizeUnknownReservedAndBlankText() {
        IllegalArgumentException tooLong = assertThrows(IllegalArgumentException.class,
                () -> new PromptTemplate(v, 20).encode("is there a blue cross ?", "no", 16));
        assertTrue(tooLong.getMessage().contains("exceeds maxTokens=20"), tooLong.getMessage());
        String longQuestion = "is the red circle left of the blue square ? ".repeat(6).strip();
        assertThrows(IllegalArgumentException.class, () -> template.encode(longQuestion, "yes", 16));
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> template.encode("what is the magenta object ?", null, 16));
        assertTrue(unknown.getMessage().contains("magenta"), unknown.getMessage());
        assertThrows(IllegalArgumentException.class, () -> template.encode("<image> what is <image> ?", null, 16));
        assertThrows(IllegalArgumentException.class, () -> template.encode("<image>", "yes", 16));
        assertThrows(IllegalArgumentException.class, () -> template.encode("is there a red circle ?", "<image> yes", 16));
        assertThrows(IllegalArgumentException.class, () -> template.encode("<bos> is there a red circle ?", "yes", 16));
        assertThrows(IllegalArgumentException.class, () -> template.encode("is there a red circle ?", "yes <eos>", 16));
        assertThrows(IllegalArgumentException.class, () -> template.encode("  ", null, 16));
        assertThrows(IllegalArgumentException.class, () -> template.encode("is there a red circle ?", "", 16));
        assertThrows(IllegalArgumentException.class, () -> template.encode("is there a red circle ?", null, 0));
    }

    @Test
    void anImageMarkerInTheQuestionPlacesTheVisionTokensThere() {
        EncodedPrompt marked = template.encode("<image> what is the red object ?", "large circle", 4);
        assertEquals("<bos> user : <image> <image> <image> <image> what is the red object ? assistant : large circle <eos>",
                v.decode(marked.tokenIds()));
        assertEquals(3, marked.imageStart());
        assertArrayEquals(new TokenModality[] {SYSTEM, SYSTEM, SYSTEM, VISION, VISION, VISION, VISION, PROMPT, PROMPT,
                PROMPT, PROMPT, PROMPT, PROMPT, SYSTEM, SYSTEM, ANSWER, ANSWER, ANSWER}, marked.modality());
        EncodedPrompt middle = template.encode("what is <image> the red object ?", "large circle", 4);
        assertEquals(5, middle.imageStart());
        assertEquals(marked.length(), middle.length());
        assertEquals(marked.answerStart(), middle.answerStart());
        // Without a marker the template puts the image after the question, exactly as before.
        EncodedPrompt plain = template.encode("what is the red object ?", "large circle", 4);
        EncodedPrompt trailing = template.encode("what is the red object ? <image>", "large circle", 4);
        assertEquals(plain, trailing);
    }

    @Test
    void invalidTextSaysWhatIsWrongAndWhere() {
        InvalidPromptException unknown = assertThrows(InvalidPromptException.class,
                () -> template.encode("what is the magenta zebra ?", "red", 16));
        assertEquals(InvalidPromptException.Problem.UNKNOWN_WORD, unknown.problem());
        assertEquals(InvalidPromptException.Part.QUESTION, unknown.part());
        assertTrue(unknown.getMessage().contains("'magenta', 'zebra'"), unknown.getMessage());
        assertEquals(InvalidPromptException.Problem.BLANK,
                assertThrows(InvalidPromptException.class, () -> template.encode("is there a red circle ?", " ", 16)).problem());
        InvalidPromptException token = assertThrows(InvalidPromptException.class,
                () -> template.encode("is there a red circle ?", "yes <eos>", 16));
        assertEquals(InvalidPromptException.Problem.TEMPLATE_TOKEN, token.problem());
        assertEquals(InvalidPromptException.Part.ANSWER, token.part());
        assertEquals(InvalidPromptException.Problem.TOO_LONG, assertThrows(InvalidPromptException.class,
                () -> new PromptTemplate(v, 20).encode("is there a blue cross ?", "no", 16)).problem());
    }
}
