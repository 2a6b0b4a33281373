package dev.qig.viz;

import dev.qig.data.EncodedPrompt;
import dev.qig.data.TokenModality;
import dev.qig.data.Vocabulary;
import dev.qig.data.VqaSample;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * What {@link AttributionPlot} draws for one sample: the image, its per-patch attribution and the per-token
 * attribution of the whole sequence.
 *
 * @param title a line of text shown at the top, typically the question and answer
 * @param imageChw RGB image in CHW order, {@code 3 x imageSize x imageSize}, values in [0, 1] (clamped when drawn)
 * @param imageSize side of the square image in pixels
 * @param grid patches per side; {@code imageSize} must be a multiple of it
 * @param patchWeights {@code grid * grid} non-negative weights, row-major
 * @param tokens token text, one per sequence position
 * @param modalities modality of each position
 * @param tokenWeights non-negative weight of each position, vision tokens included
 */
public record AttributionView(String title, float[] imageChw, int imageSize, int grid, float[] patchWeights,
        List<String> tokens, List<TokenModality> modalities, float[] tokenWeights) {

    public AttributionView {
        Objects.requireNonNull(title, "title");
        Objects.requireNonNull(imageChw, "imageChw");
        Objects.requireNonNull(patchWeights, "patchWeights");
        Objects.requireNonNull(tokens, "tokens");
        Objects.requireNonNull(modalities, "modalities");
        Objects.requireNonNull(tokenWeights, "tokenWeights");
        if (imageSize <= 0) {
            throw new IllegalArgumentException("imageSize must be positive, got " + imageSize);
        }
        if (grid <= 0 || grid > imageSize || imageSize % grid != 0) {
            throw new IllegalArgumentException("grid must be a positive divisor of imageSize " + imageSize + ", got "
                    + grid);
        }
        long pixels = 3L * imageSize * imageSize;
        if (imageChw.length != pixels) {
            throw new IllegalArgumentException("imageChw has " + imageChw.length + " floats, expected 3 x " + imageSize
                    + " x " + imageSize + " = " + pixels);
        }
        for (int i = 0; i < imageChw.length; i++) {
            if (Float.isNaN(imageChw[i])) {
                throw new IllegalArgumentException("imageChw[" + i + "] is NaN");
            }
        }
        if (patchWeights.length != grid * grid) {
            throw new IllegalArgumentException("patchWeights has " + patchWeights.length + " values, expected grid x grid = "
                    + grid + " x " + grid + " = " + grid * grid);
        }
        requireWeights(patchWeights, "patchWeights");
        if (tokens.size() != modalities.size() || tokens.size() != tokenWeights.length) {
            throw new IllegalArgumentException("tokens (" + tokens.size() + "), modalities (" + modalities.size()
                    + ") and tokenWeights (" + tokenWeights.length + ") must have the same length");
        }
        for (int i = 0; i < tokens.size(); i++) {
            if (tokens.get(i) == null || modalities.get(i) == null) {
                String what = tokens.get(i) == null ? "text" : "modality";
                throw new IllegalArgumentException("token " + i + " has a null " + what);
            }
        }
        requireWeights(tokenWeights, "tokenWeights");
        imageChw = imageChw.clone();
        patchWeights = patchWeights.clone();
        tokens = List.copyOf(tokens);
        modalities = List.copyOf(modalities);
        tokenWeights = tokenWeights.clone();
    }

    /**
     * The view of a sample whose vision tokens are its image patches in row-major order (as in the model's
     * vision tower): the heatmap shows the vision tokens' weights, so heatmap and token bars always agree.
     *
     * @param tokenWeights one weight per position of {@code prompt}
     * @throws IllegalArgumentException if the lengths disagree or the vision tokens do not form a square grid
     *     dividing the image
     */
    public static AttributionView of(String title, VqaSample sample, EncodedPrompt prompt, Vocabulary vocabulary,
            float[] tokenWeights) {
        Objects.requireNonNull(tokenWeights, "tokenWeights");
        int[] ids = prompt.tokenIds();
        TokenModality[] modality = prompt.modality();
        if (tokenWeights.length != ids.length) {
            throw new IllegalArgumentException("tokenWeights has " + tokenWeights.length + " values for a prompt of "
                    + ids.length + " tokens");
        }
        List<String> words = new ArrayList<>(ids.length);
        List<Float> patches = new ArrayList<>();
        for (int i = 0; i < ids.length; i++) {
            words.add(vocabulary.word(ids[i]));
            if (modality[i] == TokenModality.VISION) {
                patches.add(tokenWeights[i]);
            }
        }
        int grid = (int) Math.round(Math.sqrt(patches.size()));
        if (grid * grid != patches.size()) {
            throw new IllegalArgumentException(patches.size() + " vision tokens do not form a square patch grid");
        }
        float[] patchWeights = new float[patches.size()];
        for (int i = 0; i < patchWeights.length; i++) {
            patchWeights[i] = patches.get(i);
        }
        float[] image = sample.image();
        int size = (int) Math.round(Math.sqrt(image.length / 3.0));
        return new AttributionView(title, image, size, grid, patchWeights, words, Arrays.asList(modality), tokenWeights);
    }

    private static void requireWeights(float[] weights, String name) {
        for (int i = 0; i < weights.length; i++) {
            // Also rejects NaN, which fails every comparison.
            if (!(weights[i] >= 0f) || Float.isInfinite(weights[i])) {
                throw new IllegalArgumentException(
                        name + "[" + i + "] = " + weights[i] + ", weights must be finite and >= 0");
            }
        }
    }

    @Override
    public float[] imageChw() {
        return imageChw.clone();
    }

    @Override
    public float[] patchWeights() {
        return patchWeights.clone();
    }

    @Override
    public float[] tokenWeights() {
        return tokenWeights.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AttributionView v && title.equals(v.title) && Arrays.equals(imageChw, v.imageChw)
                && imageSize == v.imageSize && grid == v.grid && Arrays.equals(patchWeights, v.patchWeights)
                && tokens.equals(v.tokens) && modalities.equals(v.modalities) && Arrays.equals(tokenWeights, v.tokenWeights);
    }

    @Override
    public int hashCode() {
        return Objects.hash(title, Arrays.hashCode(imageChw), imageSize, grid, Arrays.hashCode(patchWeights), tokens,
                modalities, Arrays.hashCode(tokenWeights));
    }

    @Override
    public String toString() {
        return "AttributionView[" + title + ", " + imageSize + "px, " + grid + "x" + grid + " patches, " + tokens.size()
                + " tokens]";
    }
}
