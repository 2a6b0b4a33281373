package dev.qig.core.export;

/**
 * How an exported checkpoint stores its quantized linears: one of compressed-tensors' formats
 * (the value of {@code quantization_config.format}), or float weights on the quantization grid.
 */
public enum ServingFormat {
    /** b-bit integers packed into int32 words, per-group scales (and zero points when asymmetric): W4A16. */
    PACK_QUANTIZED("pack-quantized"),
    /** int8 weights with per-channel scales; activations quantized per token at run time: W8A8, W4A8. */
    INT_QUANTIZED("int-quantized"),
    /** Float weights equal to the fake-quantized ones, no quantization_config: for schemes no engine serves. */
    FAKE_QUANTIZED("fake-quantized");

    private final String id;

    ServingFormat(String id) {
        this.id = id;
    }

    /** The format's name as compressed-tensors writes it ({@code fake-quantized} is this project's label). */
    public String id() {
        return id;
    }
}
