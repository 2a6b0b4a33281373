package dev.qig.data;

/** What each position of an encoded prompt holds. */
public enum TokenModality {
    /** Chat-template tokens: {@code <bos> user :} and {@code assistant :}. */
    SYSTEM,
    /** {@code <image>} placeholders, one per vision token. */
    VISION,
    /** Question words. */
    PROMPT,
    /** Answer words and the final {@code <eos>}. */
    ANSWER,
    /** Batch padding. */
    PAD
}
