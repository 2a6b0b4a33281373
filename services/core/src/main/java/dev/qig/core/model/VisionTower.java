package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.List;

/**
 * ViT image encoder: non-overlapping patches -> linear patch embedding (stored as a conv kernel
 * (D, 3, p, p), applied as a matmul; a remainder of the image side is dropped as a 'valid' conv
 * does) + learned position embedding -> pre-norm blocks. Three layouts (see {@link LvlmConfig.VisionKind}):
 * the test bed's returns its last block's output through the post-LayerNorm; CLIP prepends a class
 * token and applies a pre-LayerNorm; CLIP and SigLIP return the hidden state LLaVA reads
 * ({@code vision_feature_layer}, before any post-LayerNorm) with the select strategy applied. Layers
 * after that hidden state are not built: they cannot change it.
 *
 * <p>Input: pixel values (B, 3, H, W) as the model's image processor normalizes them.
 */
public final class VisionTower extends ModelBlock {

    private final LvlmConfig.VisionKind kind;
    private final int patch;
    private final int grid;
    private final int width;
    private final int featureIndex;
    private final boolean dropFirst;
    private final Parameter patchWeight;
    private final Parameter patchBias;
    private final Parameter classEmbedding;
    private final Parameter positions;
    private final LayerNorm preNorm;
    private final List<VisionEncoderLayer> layers = new ArrayList<>();
    private final LayerNorm postNorm;

    public VisionTower(WeightRegistry registry, String prefix, LvlmConfig c) {
        super(registry, prefix);
        this.kind = c.vision();
        this.patch = c.patchSize();
        this.grid = c.patchGrid();
        this.width = c.visionHidden();
        this.featureIndex = c.visionLayersUsed();
        boolean clip = kind == LvlmConfig.VisionKind.CLIP;
        this.dropFirst = kind != LvlmConfig.VisionKind.TEST_BED && c.selectStrategy() == LvlmConfig.SelectStrategy.DEFAULT;
        this.classEmbedding = clip ? param("embeddings.class_embedding", Init.NORMAL, width) : null;
        this.patchWeight = param("embeddings.patch_embedding.weight", Init.NORMAL, width, 3, patch, patch);
        this.patchBias = clip ? null : param("embeddings.patch_embedding.bias", Init.ZEROS, width);
        this.positions = param("embeddings.position_embedding.weight", Init.NORMAL, c.visionSequence(), width);
        this.preNorm = clip ? addChildBlock("pre_layrnorm", new LayerNorm(registry, child("pre_layrnorm"), width, c.layerNormEps())) : null;
        for (int i = 0; i < c.visionLayersUsed(); i++) {
            layers.add(addChildBlock("layer" + i, new VisionEncoderLayer(registry, child("encoder.layers." + i), c)));
        }
        this.postNorm = kind == LvlmConfig.VisionKind.TEST_BED
                ? addChildBlock("post_layernorm", new LayerNorm(registry, child("post_layernorm"), width, c.layerNormEps()))
                : null;
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = embeddings(ps, inputs.head(), training);
        for (VisionEncoderLayer layer : layers) {
            x = NDScope.apply(x, in -> layer.forward1(ps, in, training)); // temporaries freed per layer
        }
        if (postNorm != null) {
            return new NDList(postNorm.forward1(ps, x, training));
        }
        return new NDList(dropFirst ? x.get(new NDIndex(":, 1:")) : x);
    }

    /**
     * Every hidden state up to the one LLaVA reads, in transformers' convention: index 0 the
     * embeddings (after CLIP's pre-LayerNorm), index i the raw output of encoder layer i.
     */
    public NDList hiddenStates(ParameterStore ps, NDArray pixels) {
        NDList states = new NDList();
        NDArray x = embeddings(ps, pixels, false);
        states.add(x);
        for (VisionEncoderLayer layer : layers) {
            x = NDScope.apply(x, in -> layer.forward1(ps, in, false));
            states.add(x);
        }
        return states;
    }

    private NDArray embeddings(ParameterStore ps, NDArray pixels, boolean training) {
        long b = pixels.getShape().get(0);
        long side = (long) grid * patch;
        if (pixels.getShape().get(2) != side || pixels.getShape().get(3) != side) {
            pixels = pixels.get(new NDIndex(":, :, :{}, :{}", side, side));
        }
        // (B,3,H,W) -> (B, g*g, 3*p*p) with channel-major patch vectors, matching the conv kernel layout.
        NDArray patches = pixels.reshape(b, 3, grid, patch, grid, patch)
                .transpose(0, 2, 4, 1, 3, 5)
                .reshape(b, (long) grid * grid, 3L * patch * patch);
        NDArray w = value(ps, patchWeight, pixels, training).reshape(width, 3L * patch * patch);
        NDArray bias = patchBias == null ? null : value(ps, patchBias, pixels, training);
        NDArray x = ai.djl.nn.core.Linear.linear(patches, w, bias).head();
        if (classEmbedding != null) {
            NDArray cls = value(ps, classEmbedding, pixels, training).reshape(1, 1, width).broadcast(b, 1, width);
            x = NDArrays.concat(new NDList(cls, x), 1);
        }
        x = x.add(value(ps, positions, pixels, training));
        return preNorm == null ? x : preNorm.forward1(ps, x, training);
    }
}
