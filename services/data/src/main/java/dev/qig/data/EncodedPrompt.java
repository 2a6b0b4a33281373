package dev.qig.data;

import java.util.Arrays;
import java.util.Objects;

/**
 * A tokenized chat prompt. {@code imageStart} is the index of the first {@code <image>} placeholder;
 * {@code answerStart} the index of the first answer token (equal to the unpadded length when there is no answer).
 * Arrays are copied in and out.
 */
public record EncodedPrompt(int[] tokenIds, TokenModality[] modality, int imageStart, int answerStart) {

    public EncodedPrompt {
        Objects.requireNonNull(tokenIds, "tokenIds");
        Objects.requireNonNull(modality, "modality");
        if (tokenIds.length != modality.length) {
            throw new IllegalArgumentException(tokenIds.length + " token ids but " + modality.length + " modalities");
        }
        if (imageStart < 0 || answerStart < imageStart || answerStart > tokenIds.length) {
            throw new IllegalArgumentException("bad positions imageStart=" + imageStart + " answerStart=" + answerStart
                    + " for length " + tokenIds.length);
        }
        tokenIds = tokenIds.clone();
        modality = modality.clone();
    }

    @Override
    public int[] tokenIds() {
        return tokenIds.clone();
    }

    @Override
    public TokenModality[] modality() {
        return modality.clone();
    }

    public int length() {
        return tokenIds.length;
    }

    /** This prompt followed by {@code <pad>} tokens of modality PAD up to {@code length}. */
    public EncodedPrompt padTo(int length) {
        if (length < tokenIds.length) {
            throw new IllegalArgumentException("cannot pad a " + tokenIds.length + "-token prompt to " + length);
        }
        int[] ids = Arrays.copyOf(tokenIds, length);
        Arrays.fill(ids, tokenIds.length, length, Vocabulary.PAD);
        TokenModality[] mods = Arrays.copyOf(modality, length);
        Arrays.fill(mods, modality.length, length, TokenModality.PAD);
        return new EncodedPrompt(ids, mods, imageStart, answerStart);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof EncodedPrompt p && Arrays.equals(tokenIds, p.tokenIds) && Arrays.equals(modality, p.modality)
                && imageStart == p.imageStart && answerStart == p.answerStart;
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(tokenIds), Arrays.hashCode(modality), imageStart, answerStart);
    }

    @Override
    public String toString() {
        return "EncodedPrompt" + Arrays.toString(tokenIds) + "[imageStart=" + imageStart + ", answerStart="
                + answerStart + "]";
    }
}
