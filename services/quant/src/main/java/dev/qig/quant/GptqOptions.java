package dev.qig.quant;

/**
 * The GPTQ settings that change its result.
 *
 * @param damp damping as a fraction of mean(diag H) added to the diagonal (the reference's 0.01)
 * @param actOrder visit columns by descending diag(H) (the reference's {@code --act-order})
 */
public record GptqOptions(double damp, boolean actOrder) {

    /** The reference's damping. */
    public static final double DEFAULT_PERCDAMP = 0.01;

    /** The reference's defaults: damping 0.01, columns in order. */
    public static final GptqOptions DEFAULT = new GptqOptions(GptqOptions.DEFAULT_PERCDAMP, false);

    public GptqOptions {
        if (!(damp >= 0 && damp < 1)) {
            throw new IllegalArgumentException("GPTQ damping must be in [0, 1), not " + damp);
        }
    }
}
