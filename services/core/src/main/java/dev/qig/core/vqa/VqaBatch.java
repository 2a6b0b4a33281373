package dev.qig.core.vqa;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.qig.data.EncodedPrompt;
import dev.qig.data.TokenModality;
import dev.qig.data.VisualQuestion;
import java.util.List;

/**
 * A batch of VQA samples as the model reads them: pixel values as the model's processor normalizes them, chat-template token ids
 * right-padded with {@code <pad>} (right padding never changes earlier positions under a causal
 * mask), and per position the modality and, for teacher forcing, the next-token target.
 */
public final class VqaBatch {

    private final int rows;
    private final int length;
    private final float[] pixels;
    private final int[] ids;
    private final int[] lengths;
    private final int[] answerStarts;
    private final int[] imageStarts;
    private final TokenModality[][] modality;
    private final int imageSize;

    private VqaBatch(List<? extends VisualQuestion> samples, EncodedPrompt[] prompts, int length, VqaProcessor processor) {
        int imageSize = processor.imageSide();
        this.rows = samples.size();
        this.length = length;
        this.imageSize = imageSize;
        int pixelCount = 3 * imageSize * imageSize;
        this.pixels = new float[rows * pixelCount];
        this.ids = new int[rows * length];
        this.lengths = new int[rows];
        this.answerStarts = new int[rows];
        this.imageStarts = new int[rows];
        this.modality = new TokenModality[rows][];
        for (int r = 0; r < rows; r++) {
            float[] values;
            try {
                values = processor.pixelValues(samples.get(r).image());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("sample " + samples.get(r).id() + ": " + e.getMessage(), e);
            }
            System.arraycopy(values, 0, pixels, r * pixelCount, pixelCount);
            EncodedPrompt padded = prompts[r].padTo(length);
            System.arraycopy(padded.tokenIds(), 0, ids, r * length, length);
            lengths[r] = prompts[r].length();
            answerStarts[r] = prompts[r].answerStart();
            imageStarts[r] = prompts[r].imageStart();
            modality[r] = padded.modality();
        }
    }

    /**
     * Encodes samples with their answers (teacher forcing) or without (generation). Generation
     * batches leave {@code extraPositions} pad slots after the longest prompt for new tokens.
     */
    public static VqaBatch encode(List<? extends VisualQuestion> samples, VqaProcessor processor, int visionTokens,
                                  boolean withAnswers, int extraPositions) {
        if (samples.isEmpty()) {
            throw new IllegalArgumentException("empty batch");
        }
        EncodedPrompt[] prompts = new EncodedPrompt[samples.size()];
        int longest = 0;
        for (int r = 0; r < prompts.length; r++) {
            VisualQuestion s = samples.get(r);
            prompts[r] = withAnswers ? EncodedQuestion.withAnswer(s, processor, visionTokens)
                    : processor.encode(s.question(), null, visionTokens);
            longest = Math.max(longest, prompts[r].length());
        }
        return new VqaBatch(samples, prompts, longest + extraPositions, processor);
    }

    public NDArray pixels(NDManager manager) {
        return manager.create(pixels, new Shape(rows, 3, imageSize, imageSize));
    }

    public NDArray tokenIds(NDManager manager) {
        return manager.create(ids, new Shape(rows, length));
    }

    /**
     * Teacher-forcing targets: at position p the id of token p+1 where token p+1 is an answer token
     * (answer words and the closing {@code <eos>}), else 0 with weight 0. Returns {targets, weights}.
     */
    public NDArray[] answerTargets(NDManager manager) {
        int[] targets = new int[rows * length];
        float[] weights = new float[rows * length];
        for (int r = 0; r < rows; r++) {
            for (int p = answerStarts[r]; p < lengths[r]; p++) {
                targets[r * length + p - 1] = ids[r * length + p];
                weights[r * length + p - 1] = 1f;
            }
        }
        return new NDArray[] {
            manager.create(targets, new Shape(rows, length)).toType(ai.djl.ndarray.types.DataType.INT64, false),
            manager.create(weights, new Shape(rows, length))
        };
    }

    public int rows() {
        return rows;
    }

    public int length() {
        return length;
    }

    /** Unpadded length of row r. */
    public int length(int row) {
        return lengths[row];
    }

    public int answerStart(int row) {
        return answerStarts[row];
    }

    /** Position of the first image token of row r. */
    public int imageStart(int row) {
        return imageStarts[row];
    }

    /** Modality of every position of row r (pad positions are PAD). */
    public TokenModality[] modality(int row) {
        return modality[row].clone();
    }

    /** A copy of the host-side token ids, row-major (rows x length). */
    public int[] ids() {
        return ids.clone();
    }
}
