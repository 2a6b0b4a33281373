package dev.qig.core.engine;

import dev.qig.quant.QuantConfig;
import dev.qig.core.model.InPlaceWeight;
import dev.qig.core.model.QuantizableLinear;
import java.util.List;

/**
 * A config applied to a model; closing it restores the full-precision model bit-exactly (weights,
 * biases, norm scales) and removes the input quantizers.
 */
public final class AppliedQuantization implements AutoCloseable {

    private final QuantConfig config;
    private final List<InPlaceWeight> edited;
    private final List<QuantizableLinear> linears;
    private boolean closed;

    AppliedQuantization(QuantConfig config, List<InPlaceWeight> edited, List<QuantizableLinear> linears) {
        this.config = config;
        this.edited = edited;
        this.linears = linears;
    }

    public QuantConfig config() {
        return config;
    }

    /** The parameters this config replaced (scaled, quantized or both), by name. */
    public java.util.Set<String> editedNames() {
        return edited.stream().map(InPlaceWeight::name).collect(java.util.stream.Collectors.toUnmodifiableSet());
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        edited.forEach(InPlaceWeight::restore);
        linears.forEach(l -> l.setInputQuantizer(null));
    }
}
