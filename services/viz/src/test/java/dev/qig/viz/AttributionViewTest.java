package dev.qig.viz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.data.TokenModality;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class AttributionViewTest {

    private static final int SIZE = 48;
    private static final int GRID = 4;
    private static final List<String> TOKENS = List.of("<bos>", "<image>", "what", "red");
    private static final List<TokenModality> MODS = List.of(TokenModality.SYSTEM, TokenModality.VISION,
            TokenModality.PROMPT, TokenModality.ANSWER);

    private static float[] image() {
        return new float[3 * SIZE * SIZE];
    }

    private static float[] patches() {
        return new float[GRID * GRID];
    }

    private static float[] weights() {
        return new float[] {0.1f, 0.2f, 0.3f, 0.4f};
    }

    private static void assertRejected(Executable build, String... fragments) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, build);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "message '" + e.getMessage() + "' lacks '" + f + "'");
        }
    }

    @Test
    void validViewIsAccepted() {
        AttributionView v = new AttributionView("t", image(), SIZE, GRID, patches(), TOKENS, MODS, weights());
        assertEquals(4, v.tokens().size());
    }

    @Test
    void wrongImageLengthIsRejected() {
        assertRejected(() -> new AttributionView("t", new float[100], SIZE, GRID, patches(), TOKENS, MODS, weights()),
                "imageChw", "100", "6912");
    }

    @Test
    void wrongPatchCountIsRejected() {
        assertRejected(() -> new AttributionView("t", image(), SIZE, GRID, new float[15], TOKENS, MODS, weights()),
                "patchWeights", "15", "16");
    }

    @Test
    void mismatchedTokenListsAreRejected() {
        assertRejected(() -> new AttributionView("t", image(), SIZE, GRID, patches(), TOKENS, MODS.subList(0, 3),
                weights()), "tokens (4)", "modalities (3)", "tokenWeights (4)");
        assertRejected(() -> new AttributionView("t", image(), SIZE, GRID, patches(), TOKENS, MODS, new float[5]),
                "tokenWeights (5)");
    }

    @Test
    void gridMustDivideTheImage() {
        assertRejected(() -> new AttributionView("t", image(), SIZE, 5, new float[25], TOKENS, MODS, weights()),
                "grid", "48", "5");
        assertRejected(() -> new AttributionView("t", image(), SIZE, 0, new float[0], TOKENS, MODS, weights()), "grid");
        assertRejected(() -> new AttributionView("t", new float[0], 0, 1, new float[1], TOKENS, MODS, weights()),
                "imageSize");
    }

    @Test
    void negativeOrNonFiniteWeightsAreRejected() {
        float[] p = patches();
        p[7] = -0.5f;
        assertRejected(() -> new AttributionView("t", image(), SIZE, GRID, p, TOKENS, MODS, weights()),
                "patchWeights[7]", "-0.5");
        float[] w = weights();
        w[2] = Float.NaN;
        assertRejected(() -> new AttributionView("t", image(), SIZE, GRID, patches(), TOKENS, MODS, w),
                "tokenWeights[2]", "NaN");
        w[2] = Float.POSITIVE_INFINITY;
        assertRejected(() -> new AttributionView("t", image(), SIZE, GRID, patches(), TOKENS, MODS, w),
                "tokenWeights[2]");
        float[] img = image();
        img[9] = Float.NaN;
        assertRejected(() -> new AttributionView("t", img, SIZE, GRID, patches(), TOKENS, MODS, weights()),
                "imageChw[9]");
    }

    @Test
    void nullTokensAreRejected() {
        List<String> tokens = new ArrayList<>(TOKENS);
        tokens.set(2, null);
        assertRejected(() -> new AttributionView("t", image(), SIZE, GRID, patches(), tokens, MODS, weights()),
                "token 2");
    }

    @Test
    void arraysAreCopiedInAndOut() {
        float[] w = weights();
        AttributionView v = new AttributionView("t", image(), SIZE, GRID, patches(), TOKENS, MODS, w);
        w[0] = 9f;
        v.tokenWeights()[1] = 9f;
        assertEquals("[0.1, 0.2, 0.3, 0.4]", Arrays.toString(v.tokenWeights()));
        assertEquals(v, new AttributionView("t", image(), SIZE, GRID, patches(), TOKENS, MODS, weights()));
    }
}
