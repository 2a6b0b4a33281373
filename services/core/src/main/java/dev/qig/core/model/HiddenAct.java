package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import java.util.Locale;

/**
 * The activations Hugging Face configs name ({@code hidden_act}, {@code projector_hidden_act}), computed
 * as transformers does. Scalars go through {@link Scalars}, so every one is safe in a recorded graph.
 */
public enum HiddenAct {
    /** {@code gelu}: the exact, erf-based GELU (PyTorch's default). */
    GELU("gelu"),
    /** {@code gelu_pytorch_tanh} (SigLIP): the tanh approximation. */
    GELU_TANH("gelu_pytorch_tanh"),
    /** {@code quick_gelu} (CLIP): {@code x * sigmoid(1.702 x)}. */
    QUICK_GELU("quick_gelu"),
    /** {@code silu}. */
    SILU("silu");

    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2.0 / Math.PI);

    private final String hfName;

    HiddenAct(String hfName) {
        this.hfName = hfName;
    }

    public String hfName() {
        return hfName;
    }

    public NDArray apply(NDArray x) {
        switch (this) {
            case GELU:
                return Activation.gelu(x);
            case GELU_TANH: {
                // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
                NDArray inner = Scalars.mul(x.add(Scalars.mul(x.mul(x).mul(x), 0.044715f)), SQRT_2_OVER_PI);
                return Scalars.mul(x, 0.5f).mul(Scalars.add(inner.tanh(), 1f));
            }
            case QUICK_GELU:
                return x.mul(Scalars.mul(x, 1.702f).getNDArrayInternal().sigmoid());
            default:
                return Scalars.silu(x);
        }
    }

    /** The activation a config names ("gelu_new" and "gelu_fast" are the tanh form too). */
    public static HiddenAct fromHf(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        switch (n) {
            case "gelu":
                return GELU;
            case "gelu_pytorch_tanh":
            case "gelu_new":
            case "gelu_fast":
                return GELU_TANH;
            case "quick_gelu":
                return QUICK_GELU;
            case "silu":
            case "swish":
                return SILU;
            default:
                throw new IllegalArgumentException("unsupported activation '" + name + "' (supported: gelu, gelu_pytorch_tanh, "
                        + "gelu_new, gelu_fast, quick_gelu, silu)");
        }
    }
}
