package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.List;

/**
 * ViT image encoder (SigLIP layout): non-overlapping patches -> linear patch embedding (stored as a
 * conv kernel (D, 3, p, p) like SigLIP's, applied as a matmul) + learned position embedding ->
 * pre-norm blocks -> final LayerNorm. Input: pixel values (B, 3, H, W) normalized to [-1, 1].
 */
public final class VisionTower extends ModelBlock {

    private final int patch;
    private final int grid;
    private final int width;
    private final Parameter patchWeight;
    private final Parameter patchBias;
    private final Parameter positions;
    private final List<VisionEncoderLayer> layers = new ArrayList<>();
    private final LayerNorm postNorm;

    public VisionTower(WeightRegistry registry, String prefix, LvlmConfig c) {
        super(registry, prefix);
        this.patch = c.patchSize();
        this.grid = c.imageSize() / c.patchSize();
        this.width = c.visionHidden();
        this.patchWeight = param("embeddings.patch_embedding.weight", Init.NORMAL, width, 3, patch, patch);
        this.patchBias = param("embeddings.patch_embedding.bias", Init.ZEROS, width);
        this.positions = param("embeddings.position_embedding.weight", Init.NORMAL, (long) grid * grid, width);
        for (int i = 0; i < c.visionLayers(); i++) {
            layers.add(addChildBlock("layer" + i, new VisionEncoderLayer(registry, child("encoder.layers." + i), c)));
        }
        this.postNorm = addChildBlock("post_layernorm", new LayerNorm(registry, child("post_layernorm"), width, c.layerNormEps()));
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray pixels = inputs.head();
        long b = pixels.getShape().get(0);
        // (B,3,H,W) -> (B, g*g, 3*p*p) with channel-major patch vectors, matching the conv kernel layout.
        NDArray patches = pixels.reshape(b, 3, grid, patch, grid, patch)
                .transpose(0, 2, 4, 1, 3, 5)
                .reshape(b, (long) grid * grid, 3L * patch * patch);
        NDArray w = value(ps, patchWeight, pixels, training).reshape(width, 3L * patch * patch);
        NDArray x = ai.djl.nn.core.Linear.linear(patches, w, value(ps, patchBias, pixels, training)).head()
                .add(value(ps, positions, pixels, training));
        for (VisionEncoderLayer layer : layers) {
            x = layer.forward1(ps, x, training);
        }
        return new NDList(postNorm.forward1(ps, x, training));
    }
}
