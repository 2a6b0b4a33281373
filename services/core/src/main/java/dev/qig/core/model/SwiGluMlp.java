package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.List;

/** Llama/Qwen2 MLP: {@code down(silu(gate(x)) * up(x))}, biases only where Llama's mlp_bias says. The module inspected for gate_up. */
public final class SwiGluMlp extends ModelBlock {

    private final QuantizableLinear gate;
    private final QuantizableLinear up;
    private final QuantizableLinear down;

    public SwiGluMlp(WeightRegistry registry, String prefix, int hidden, int intermediate, boolean bias) {
        super(registry, prefix);
        this.gate = addChildBlock("gate_proj", new QuantizableLinear(registry, child("gate_proj"), hidden, intermediate, bias));
        this.up = addChildBlock("up_proj", new QuantizableLinear(registry, child("up_proj"), hidden, intermediate, bias));
        this.down = addChildBlock("down_proj", new QuantizableLinear(registry, child("down_proj"), intermediate, hidden, bias));
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.head();
        NDArray act = Scalars.silu(gate.forward1(ps, x, training)).mul(up.forward1(ps, x, training));
        return new NDList(down.forward1(ps, act, training));
    }

    public QuantizableLinear gate() {
        return gate;
    }

    public QuantizableLinear up() {
        return up;
    }

    public QuantizableLinear down() {
        return down;
    }

    public List<QuantizableLinear> linears() {
        return List.of(gate, up, down);
    }
}
