package dev.qig.data;

import java.util.Arrays;
import java.util.random.RandomGenerator;

/**
 * Draws a scene into a CHW float image pixel by pixel (no Graphics2D, so output is identical on every JDK).
 * Shapes are binary masks without antialiasing.
 */
final class SceneRenderer {

    private static final int SIZE = SyntheticWorld.IMAGE_SIZE;
    private static final int PLANE = SIZE * SIZE;

    private static final float CLEAN_BACKGROUND = 0.2f;
    private static final float LOWLIGHT_BACKGROUND = 0.03f;
    private static final float LOWLIGHT_NOISE_SIGMA = 0.06f;
    /** Per-channel jitter of object colors, so the model learns color categories rather than exact values. */
    private static final float COLOR_JITTER = 0.04f;

    /** RGB per {@link ColorName} ordinal. */
    private static final float[][] STANDARD_PALETTE = {
            {0.90f, 0.12f, 0.12f}, // red
            {0.15f, 0.78f, 0.20f}, // green
            {0.20f, 0.35f, 0.95f}, // blue
            {0.95f, 0.88f, 0.15f}, // yellow
            {0.95f, 0.95f, 0.95f}, // white
    };
    /** Same names, dimmed and hue-shifted: maroon, dark teal, indigo, dark amber, bluish grey. */
    private static final float[][] LOWLIGHT_PALETTE = {
            {0.42f, 0.05f, 0.16f},
            {0.05f, 0.36f, 0.28f},
            {0.16f, 0.10f, 0.46f},
            {0.46f, 0.34f, 0.04f},
            {0.38f, 0.40f, 0.46f},
    };

    private SceneRenderer() {}

    static float[] render(Scene scene, Domain domain, RandomGenerator rng) {
        float[] image = new float[3 * PLANE];
        switch (domain) {
            case CLEAN, QMIX -> fillGrey(image, CLEAN_BACKGROUND);
            case CLUTTERED -> paintTexture(image, rng);
            case LOWLIGHT -> fillGrey(image, LOWLIGHT_BACKGROUND);
        }
        float[][] palette = domain == Domain.LOWLIGHT ? LOWLIGHT_PALETTE : STANDARD_PALETTE;
        for (SceneObject o : scene.objects()) {
            float[] rgb = palette[o.color().ordinal()].clone();
            for (int c = 0; c < 3; c++) {
                rgb[c] = clamp(rgb[c] + COLOR_JITTER * (2 * rng.nextFloat() - 1));
            }
            paintObject(image, o, rgb);
        }
        if (domain == Domain.LOWLIGHT) {
            for (int i = 0; i < image.length; i++) {
                image[i] = clamp(image[i] + LOWLIGHT_NOISE_SIGMA * (float) rng.nextGaussian());
            }
        }
        return image;
    }

    /** Whether pixel (u, v) of an {@code extent}-sized bounding box belongs to the shape (u = column, v = row). */
    static boolean covers(ShapeKind shape, int extent, int u, int v) {
        double du = u + 0.5 - extent / 2.0;
        double dv = v + 0.5 - extent / 2.0;
        return switch (shape) {
            case SQUARE -> true;
            // The 0.2 px shrink cuts the corners off even-sized circles, which otherwise look like squares.
            case CIRCLE -> {
                double r = extent / 2.0 - 0.2;
                yield du * du + dv * dv <= r * r;
            }
            // Upward-pointing isosceles triangle: apex in row 0, full width in the last row.
            case TRIANGLE -> Math.abs(du) <= (v + 1) / 2.0;
            case CROSS -> {
                int t = crossThickness(extent);
                int lo = (extent - t) / 2;
                yield (u >= lo && u < lo + t) || (v >= lo && v < lo + t);
            }
        };
    }

    /** About a third of the extent, with the parity of the extent so the bars are centred. */
    private static int crossThickness(int extent) {
        int t = extent / 3;
        return (extent - t) % 2 == 0 ? t : t + 1;
    }

    private static void paintObject(float[] image, SceneObject o, float[] rgb) {
        for (int v = 0; v < o.extent(); v++) {
            for (int u = 0; u < o.extent(); u++) {
                if (covers(o.shape(), o.extent(), u, v)) {
                    setPixel(image, o.x() + u, o.y() + v, rgb);
                }
            }
        }
    }

    /** Two-tone stripes, checkerboard or speckle with a random low-to-medium contrast, random per image. */
    private static void paintTexture(float[] image, RandomGenerator rng) {
        float level = 0.15f + 0.2f * rng.nextFloat();
        float contrast = (0.08f + 0.17f * rng.nextFloat()) * (rng.nextBoolean() ? 1 : -1);
        float[] base = new float[3];
        float[] alt = new float[3];
        for (int c = 0; c < 3; c++) {
            base[c] = clamp(level + 0.04f * (2 * rng.nextFloat() - 1));
            alt[c] = clamp(base[c] + contrast);
        }
        int pattern = rng.nextInt(3);
        int width = Randoms.between(1, 4, rng);
        int orientation = rng.nextInt(4);
        int phase = rng.nextInt(2 * SIZE);
        float density = 0.15f + 0.35f * rng.nextFloat();
        for (int y = 0; y < SIZE; y++) {
            for (int x = 0; x < SIZE; x++) {
                boolean on = switch (pattern) {
                    case 0 -> {
                        int t = switch (orientation) {
                            case 0 -> y;
                            case 1 -> x;
                            case 2 -> x + y;
                            default -> x - y;
                        };
                        yield Math.floorMod(t + phase, 2 * width) < width;
                    }
                    case 1 -> ((x + phase) / (width + 1) + (y + phase) / (width + 1)) % 2 == 0;
                    default -> rng.nextFloat() < density;
                };
                setPixel(image, x, y, on ? alt : base);
            }
        }
    }

    private static void fillGrey(float[] image, float level) {
        Arrays.fill(image, level);
    }

    private static void setPixel(float[] image, int x, int y, float[] rgb) {
        int i = y * SIZE + x;
        image[i] = rgb[0];
        image[PLANE + i] = rgb[1];
        image[2 * PLANE + i] = rgb[2];
    }

    private static float clamp(float v) {
        return Math.max(0f, Math.min(1f, v));
    }
}
