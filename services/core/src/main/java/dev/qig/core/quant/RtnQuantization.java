package dev.qig.core.quant;

import dev.qig.core.model.QuantizableLinear;
import dev.qig.core.model.VisionLanguageModel;
import java.util.function.UnaryOperator;
import ai.djl.ndarray.NDArray;

/** Plain round-to-nearest: every decoder linear's weight fake-quantized in place, no scales. */
public final class RtnQuantization {

    private RtnQuantization() {}

    public static void apply(VisionLanguageModel model, UnaryOperator<NDArray> weightQuantizer) {
        for (QuantizableLinear linear : model.decoderLinears()) {
            linear.replaceWeight(weightQuantizer);
        }
    }

    /** Restores every decoder linear to its full-precision weight, bit-exactly. */
    public static void restore(VisionLanguageModel model) {
        for (QuantizableLinear linear : model.decoderLinears()) {
            linear.restoreWeight();
        }
    }
}
