package dev.qig.viz;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.data.Domain;
import dev.qig.data.EncodedPrompt;
import dev.qig.data.PromptTemplate;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.TokenModality;
import dev.qig.data.VqaSample;
import java.awt.Color;
import java.awt.Rectangle;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AttributionPlotTest {

    private static final int SIZE = 48;
    private static final int GRID = 4;

    /** {@code <bos> user : <image>x16 what color is the circle ? assistant : red <eos>} */
    private static final List<String> TOKENS = new ArrayList<>();
    private static final List<TokenModality> MODALITIES = new ArrayList<>();

    static {
        add(TokenModality.SYSTEM, "<bos>", "user", ":");
        for (int i = 0; i < GRID * GRID; i++) {
            add(TokenModality.VISION, "<image>");
        }
        add(TokenModality.PROMPT, "what", "color", "is", "the", "circle", "?");
        add(TokenModality.SYSTEM, "assistant", ":");
        add(TokenModality.ANSWER, "red", "<eos>");
    }

    private static void add(TokenModality m, String... words) {
        for (String w : words) {
            TOKENS.add(w);
            MODALITIES.add(m);
        }
    }

    private static int indexOf(String word) {
        int i = TOKENS.indexOf(word);
        assertTrue(i >= 0, word);
        return i;
    }

    private static float[] grey(float value) {
        float[] chw = new float[3 * SIZE * SIZE];
        Arrays.fill(chw, value);
        return chw;
    }

    /** Vision token weights equal the patch weights, as in a real QIG run. */
    private static float[] tokenWeights(float[] patches, float text) {
        float[] w = new float[TOKENS.size()];
        int p = 0;
        for (int i = 0; i < w.length; i++) {
            w[i] = MODALITIES.get(i) == TokenModality.VISION ? patches[p++] : text;
        }
        return w;
    }

    private static AttributionView view(float[] patches, float[] tokenWeights) {
        return new AttributionView("Q: what color is the circle ? A: red", grey(0.5f), SIZE, GRID, patches,
                TOKENS, MODALITIES, tokenWeights);
    }

    private static double distance(int rgb, Color c) {
        int dr = ((rgb >> 16) & 0xff) - c.getRed();
        int dg = ((rgb >> 8) & 0xff) - c.getGreen();
        int db = (rgb & 0xff) - c.getBlue();
        return Math.sqrt(dr * dr + dg * dg + db * db);
    }

    /** Pixels on a bar's center line that have exactly the bar color. */
    private static int barPixels(BufferedImage image, AttributionPlot.Layout layout, int row, Color color) {
        int y = layout.rowCenterY(row);
        int n = 0;
        for (int x = layout.barX(); x < image.getWidth(); x++) {
            if ((image.getRGB(x, y) & 0xffffff) == (color.getRGB() & 0xffffff)) {
                n++;
            }
        }
        return n;
    }

    @Test
    void writesPngThatImageIoReadsBackAtAPlausibleSize(@TempDir Path dir) throws IOException {
        float[] patches = new float[GRID * GRID];
        Arrays.fill(patches, 0.1f);
        AttributionView v = view(patches, tokenWeights(patches, 0.2f));
        Path file = dir.resolve("nested/deeper/plot.png");

        AttributionPlot.writePng(v, file);

        BufferedImage read = ImageIO.read(file.toFile());
        assertNotNull(read, "ImageIO could not decode the written PNG");
        assertTrue(read.getWidth() >= 700 && read.getWidth() <= 1400, "width " + read.getWidth());
        assertTrue(read.getHeight() >= 400 && read.getHeight() <= 1200, "height " + read.getHeight());
        BufferedImage fromBytes = ImageIO.read(new ByteArrayInputStream(AttributionPlot.toPng(v)));
        assertEquals(read.getWidth(), fromBytes.getWidth());
        assertEquals(read.getHeight(), fromBytes.getHeight());
        byte[] head = Arrays.copyOf(Files.readAllBytes(file), 8);
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, head);
    }

    @Test
    void largestPatchGetsTheTopColorAndSmallestTheBottomColor() {
        float[] patches = new float[GRID * GRID];
        Arrays.fill(patches, 0.3f);
        // Off-diagonal positions, so a transposed or mirrored heatmap fails.
        int hot = 2;
        int cold = 13;
        patches[hot] = 1.0f;
        patches[cold] = 0.0f;
        AttributionView v = view(patches, tokenWeights(patches, 0.1f));
        BufferedImage image = AttributionPlot.render(v);
        AttributionPlot.Layout layout = AttributionPlot.layout(v);
        Color top = AttributionPlot.COLORMAP[AttributionPlot.COLORMAP.length - 1];
        Color bottom = AttributionPlot.COLORMAP[0];

        // Positions come from the image rectangle, not from Layout.cell, so a mis-indexed cell cannot hide itself.
        // The value label sits in a corner; the upper-left quarter of a cell on a plain image is pure overlay.
        Rectangle img = layout.image();
        assertEquals(img.width / GRID, layout.cell(hot).width);
        int hotRgb = overlayPixel(image, img, hot / GRID, hot % GRID);
        assertTrue(distance(hotRgb, top) < distance(hotRgb, bottom),
                "hot cell pixel " + Integer.toHexString(hotRgb) + " should be nearer the top color");
        int coldRgb = overlayPixel(image, img, cold / GRID, cold % GRID);
        assertTrue(distance(coldRgb, bottom) < distance(coldRgb, top),
                "cold cell pixel " + Integer.toHexString(coldRgb) + " should be nearer the bottom color");
        // And the middle weight lands strictly between.
        int midRgb = overlayPixel(image, img, 0, 0);
        assertTrue(distance(midRgb, top) > distance(hotRgb, top) && distance(midRgb, bottom) > distance(coldRgb, bottom));
    }

    @Test
    void cellLabelMovesAwayFromAnObjectInItsUsualCorner() {
        float[] patches = new float[GRID * GRID];
        Arrays.fill(patches, 0.5f);
        float[] chw = grey(0.5f);
        // A white square filling the bottom-right of patch 5 (source pixels 12..23), one pixel off the cell edge.
        int plane = SIZE * SIZE;
        for (int y = 16; y < 23; y++) {
            for (int x = 14; x < 23; x++) {
                for (int ch = 0; ch < 3; ch++) {
                    chw[ch * plane + y * SIZE + x] = 1f;
                }
            }
        }
        AttributionView v = new AttributionView("t", chw, SIZE, GRID, patches, TOKENS, MODALITIES,
                tokenWeights(patches, 0.1f));
        BufferedImage image = AttributionPlot.render(v);
        AttributionPlot.Layout layout = AttributionPlot.layout(v);

        assertEquals(0, labelPixels(image, layout.cell(5), true), "label drawn over the object");
        assertTrue(labelPixels(image, layout.cell(5), false) > 20, "label missing from the free top half");
        // Without an object the label keeps its usual bottom-right place.
        assertTrue(labelPixels(image, layout.cell(6), true) > 20);
    }

    /** Pixels in the bottom (or top) third of a cell unlike the two most common colors there (overlay, object). */
    private static int labelPixels(BufferedImage image, Rectangle cell, boolean bottom) {
        java.util.Map<Integer, Integer> counts = new java.util.HashMap<>();
        int y0 = bottom ? cell.y + 2 * cell.height / 3 : cell.y + 1;
        int y1 = bottom ? cell.y + cell.height - 1 : cell.y + cell.height / 3;
        for (int y = y0; y < y1; y++) {
            for (int x = cell.x + 1; x < cell.x + cell.width - 1; x++) {
                counts.merge(image.getRGB(x, y), 1, Integer::sum);
            }
        }
        List<Integer> sorted = counts.values().stream().sorted(java.util.Comparator.reverseOrder()).toList();
        int common = sorted.get(0) + (sorted.size() > 1 ? sorted.get(1) : 0);
        return sorted.stream().mapToInt(Integer::intValue).sum() - common;
    }

    private static int overlayPixel(BufferedImage image, Rectangle img, int row, int col) {
        int cell = img.width / GRID;
        return image.getRGB(img.x + col * cell + cell / 4, img.y + row * cell + cell / 4);
    }

    @Test
    void colormapHitsItsControlPointsAndClamps() {
        Color[] cm = AttributionPlot.COLORMAP;
        assertEquals(cm[0], AttributionPlot.colormap(0));
        assertEquals(cm[cm.length - 1], AttributionPlot.colormap(1));
        assertEquals(cm[0], AttributionPlot.colormap(-3));
        assertEquals(cm[cm.length - 1], AttributionPlot.colormap(7));
        assertEquals(cm[0], AttributionPlot.colormap(Double.NaN));
        assertEquals(cm[5], AttributionPlot.colormap(0.5));
        // Viridis gets brighter along the scale.
        double previous = -1;
        for (int i = 0; i <= 20; i++) {
            Color c = AttributionPlot.colormap(i / 20.0);
            double luma = 0.2126 * c.getRed() + 0.7152 * c.getGreen() + 0.0722 * c.getBlue();
            assertTrue(luma > previous, "luminance not increasing at " + i);
            previous = luma;
        }
    }

    @Test
    void higherWeightTextTokenGetsTheLongerBar() {
        float[] patches = new float[GRID * GRID];
        Arrays.fill(patches, 0.05f);
        float[] w = tokenWeights(patches, 0.01f);
        w[indexOf("red")] = 0.8f;
        w[indexOf("color")] = 0.2f;
        w[indexOf("circle")] = 0.4f;
        AttributionView v = view(patches, w);
        BufferedImage image = AttributionPlot.render(v);
        AttributionPlot.Layout layout = AttributionPlot.layout(v);

        int red = barPixels(image, layout, layout.rowOfToken(indexOf("red")), AttributionPlot.ANSWER_COLOR);
        int color = barPixels(image, layout, layout.rowOfToken(indexOf("color")), AttributionPlot.PROMPT_COLOR);
        int circle = barPixels(image, layout, layout.rowOfToken(indexOf("circle")), AttributionPlot.PROMPT_COLOR);
        assertTrue(red > circle && circle > color, "bar pixels red=" + red + " circle=" + circle + " color=" + color);
        // Lengths are proportional to the weights (within rounding).
        assertEquals(4.0, (double) red / color, 0.1);
        assertEquals(2.0, (double) circle / color, 0.1);
    }

    @Test
    void rowsFollowSequenceOrderWithVisionFoldedIntoOneRow() {
        float[] patches = new float[GRID * GRID];
        Arrays.fill(patches, 0.5f);
        AttributionView v = view(patches, tokenWeights(patches, 0.1f));
        AttributionPlot.Layout layout = AttributionPlot.layout(v);

        // 13 text tokens plus one vision summary row.
        assertEquals(14, layout.rows().size());
        assertEquals(3, layout.visionRow(), "vision row sits where the image tokens are");
        assertEquals("vision (16 tokens)", layout.rows().get(3).label());
        assertEquals(8.0, layout.rows().get(3).weight(), 1e-6);
        assertEquals(-1, layout.rowOfToken(5), "single vision tokens have no row");
        int previous = -1;
        for (int i = 0; i < TOKENS.size(); i++) {
            int row = layout.rowOfToken(i);
            if (MODALITIES.get(i) != TokenModality.VISION) {
                assertTrue(row > previous, "token " + i + " out of order");
                assertEquals(TOKENS.get(i), layout.rows().get(row).label());
                previous = row;
            }
        }
        // The vision sum (8.0) exceeds the largest token (0.5): its bar is capped at the full width.
        assertEquals(layout.barLength(0.5), layout.barLength(8.0));
    }

    @Test
    void subtitleGivesEachModalitysShareOfTheTotal() {
        float[] patches = new float[GRID * GRID];
        Arrays.fill(patches, 0.025f); // vision total 0.4
        float[] w = tokenWeights(patches, 0f);
        w[indexOf("what")] = 0.2f; // prompt 0.2
        w[indexOf("red")] = 0.3f; // answer 0.3
        w[indexOf("<bos>")] = 0.1f; // system 0.1
        AttributionPlot.Layout layout = AttributionPlot.layout(view(patches, w));

        String s = layout.subtitle();
        assertTrue(s.startsWith("vision 40% \u00b7 prompt 20% \u00b7 answer 30% \u00b7 system 10%"), s);
        assertTrue(s.contains("total 1.0"), s);
        assertFalse(s.contains("pad"), s);
    }

    @Test
    void allZeroWeightsRenderWithoutNaN() {
        float[] patches = new float[GRID * GRID];
        AttributionView v = view(patches, new float[TOKENS.size()]);

        BufferedImage image = AttributionPlot.render(v);
        AttributionPlot.Layout layout = AttributionPlot.layout(v);

        assertFalse(layout.subtitle().contains("NaN"), layout.subtitle());
        assertFalse(layout.subtitle().contains("%"), "no shares of a zero total: " + layout.subtitle());
        assertEquals(0, barPixels(image, layout, layout.rowOfToken(indexOf("red")), AttributionPlot.ANSWER_COLOR));
        assertEquals(0, barPixels(image, layout, layout.visionRow(), AttributionPlot.VISION_COLOR));
        Rectangle c = layout.cell(5);
        int rgb = image.getRGB(c.x + c.width / 4, c.y + c.height / 4);
        assertTrue(distance(rgb, AttributionPlot.COLORMAP[0]) < distance(rgb, AttributionPlot.COLORMAP[10]));
        assertTrue(AttributionPlot.toPng(v).length > 0);
    }

    @Test
    void longTitlesWrapInsideTheFigure() {
        float[] patches = new float[GRID * GRID];
        Arrays.fill(patches, 0.1f);
        String title = "Q: " + "is the small red square left of the large blue circle ? ".repeat(12) + "A: yes";
        AttributionView v = new AttributionView(title, grey(0.5f), SIZE, GRID, patches, TOKENS, MODALITIES,
                tokenWeights(patches, 0.1f));
        AttributionPlot.Layout layout = AttributionPlot.layout(v);

        assertEquals(3, layout.titleLines().size(), "title is capped at three lines");
        assertTrue(layout.titleLines().get(2).endsWith("\u2026"), layout.titleLines().get(2));
        assertTrue(layout.width() <= 1400, "width " + layout.width());
        assertEquals(layout.height(), AttributionPlot.render(v).getHeight());
    }

    @Test
    void padTokensAreLeftOutAndOtherImageSizesWork() {
        // 64 px image, 8x8 grid, with padding at the end of the sequence.
        int size = 64;
        int grid = 8;
        List<String> tokens = new ArrayList<>(List.of("<bos>"));
        List<TokenModality> mods = new ArrayList<>(List.of(TokenModality.SYSTEM));
        for (int i = 0; i < grid * grid; i++) {
            tokens.add("<image>");
            mods.add(TokenModality.VISION);
        }
        tokens.addAll(List.of("why", "<eos>", "<pad>", "<pad>"));
        mods.addAll(List.of(TokenModality.PROMPT, TokenModality.ANSWER, TokenModality.PAD, TokenModality.PAD));
        float[] w = new float[tokens.size()];
        Arrays.fill(w, 0.01f);
        float[] patches = new float[grid * grid];
        patches[grid * grid - 1] = 3f;
        float[] chw = new float[3 * size * size];
        AttributionView v = new AttributionView("t", chw, size, grid, patches, tokens, mods, w);

        AttributionPlot.Layout layout = AttributionPlot.layout(v);
        BufferedImage image = AttributionPlot.render(v);

        assertEquals(4, layout.rows().size(), "bos, vision, why, eos");
        assertEquals(-1, layout.rowOfToken(tokens.size() - 1));
        assertEquals(384, layout.image().width, "64 px upscaled x6");
        Rectangle last = layout.cell(grid * grid - 1);
        assertEquals(layout.image().x + layout.image().width, last.x + last.width);
        int rgb = image.getRGB(last.x + last.width / 4, last.y + last.height / 4);
        assertTrue(distance(rgb, AttributionPlot.COLORMAP[10]) < distance(rgb, AttributionPlot.COLORMAP[0]));
    }

    @Test
    void viewOfARealSampleUsesTheVisionTokensAsPatches() {
        VqaSample s = new SyntheticWorld().evalSet(Domain.CLEAN).get(0);
        PromptTemplate template = new PromptTemplate();
        EncodedPrompt p = template.encode(s.question(), s.answer(), GRID * GRID);
        float[] w = new float[p.length()];
        for (int i = 0; i < w.length; i++) {
            w[i] = i * 0.01f;
        }

        AttributionView v = AttributionView.of(s.question(), s, p, template.vocabulary(), w);

        assertEquals(SyntheticWorld.IMAGE_SIZE, v.imageSize());
        assertEquals(GRID, v.grid());
        assertEquals(p.imageStart() * 0.01f, v.patchWeights()[0], 1e-6);
        assertEquals((p.imageStart() + 15) * 0.01f, v.patchWeights()[15], 1e-6);
        assertEquals("<bos>", v.tokens().get(0));
        assertEquals(s.answer(), v.tokens().get(p.answerStart()));
        assertTrue(AttributionPlot.render(v).getWidth() > 0);
    }
}
