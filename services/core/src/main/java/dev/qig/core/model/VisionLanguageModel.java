package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * LLaVA-style vision-language model: {@link VisionTower} -> {@link Projector} -> Qwen2-style decoder
 * ({@code model.embed_tokens}, {@code model.layers.N}, {@code model.norm}) -> {@code lm_head}.
 *
 * <p>Forward input: {@code NDList(pixels (B,3,H,W) in [-1,1], tokenIds (B,T))}; each row holds one
 * contiguous run of {@link #IMAGE_TOKEN} ids (anywhere in the row), which the row's projected vision
 * tokens replace. Output: {@code NDList(logits (B,T,V), final normalized hidden states (B,T,D),
 * residual stream after decoder layer 0, ..., after the last layer (each (B,T,D)))}; the per-layer
 * states cost nothing extra and let training losses probe intermediate layers.
 */
public final class VisionLanguageModel extends ModelBlock {

    /** Id of the image placeholder token (Hugging Face's {@code image_token_index}). */
    public static final int IMAGE_TOKEN = 3;

    /**
     * A learned embedding per image patch, added to the projected vision tokens. The vision tower's
     * own position embedding does not survive its pretraining on patch attributes (a probe on its
     * output finds a patch's row and column 16% of the time, chance 6%), and RoPE puts no position
     * into attention values, so without it the decoder cannot compare where two objects are.
     * Zero-initialized, so a model starts as if it were absent, and checkpoints written before it
     * existed load with zeros (see {@link #ADDED_WEIGHTS}).
     */
    public static final String PATCH_POSITION_EMBEDDING = "multi_modal_projector.patch_position_embedding";

    /** Weights added after checkpoints were first shipped; absent from a checkpoint they keep their (neutral) initial value. */
    public static final java.util.Set<String> ADDED_WEIGHTS = java.util.Set.of(PATCH_POSITION_EMBEDDING);

    private final LvlmConfig config;
    private final VisionTower vision;
    private final Projector projector;
    private final Parameter embedTokens;
    private final Parameter patchPositions;
    private final List<DecoderLayer> layers = new ArrayList<>();
    private final RmsNorm finalNorm;
    private final QuantizableLinear lmHead;

    private VisionLanguageModel(WeightRegistry registry, LvlmConfig c) {
        super(registry, "");
        this.config = c;
        this.vision = addChildBlock("vision_tower", new VisionTower(registry, "vision_tower.vision_model", c));
        this.projector = addChildBlock("projector", new Projector(registry, "multi_modal_projector", c.visionHidden(), c.hidden()));
        this.embedTokens = param("model.embed_tokens.weight", Init.NORMAL, c.vocabSize(), c.hidden());
        this.patchPositions = param(PATCH_POSITION_EMBEDDING, Init.ZEROS, c.visionTokens(), c.hidden());
        for (int i = 0; i < c.layers(); i++) {
            layers.add(addChildBlock("layer" + i, new DecoderLayer(registry, "model.layers." + i, i, c)));
        }
        this.finalNorm = addChildBlock("norm", new RmsNorm(registry, "model.norm", c.hidden(), c.rmsNormEps()));
        this.lmHead = addChildBlock("lm_head", new QuantizableLinear(registry, "lm_head", c.hidden(), c.vocabSize(), false));
    }

    /** A model with freshly initialized weights, drawn deterministically from {@code seed}. */
    public static VisionLanguageModel create(LvlmConfig config, NDManager manager, long seed) {
        VisionLanguageModel model = new VisionLanguageModel(new WeightRegistry(seed), config);
        model.initialize(manager, DataType.FLOAT32);
        return model;
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray pixels = inputs.get(0);
        NDArray ids = inputs.get(1);
        NDArray h = inputEmbeddings(ps, pixels, ids, training);
        NDList perLayer = new NDList(layers.size());
        for (DecoderLayer layer : layers) {
            h = layer.forward1(ps, h, training);
            perLayer.add(h);
        }
        NDArray normed = finalNorm.forward1(ps, h, training);
        NDList out = new NDList(lmHead.forward1(ps, normed, training), normed);
        out.addAll(perLayer);
        return out;
    }

    /**
     * Token embeddings with each row's image placeholder run replaced by that row's projected vision
     * tokens: (B,T,D). The run may sit at a different position in every row.
     */
    public NDArray inputEmbeddings(ParameterStore ps, NDArray pixels, NDArray ids, boolean training) {
        int[] starts = imageStarts(ids);
        int n = config.visionTokens();
        long rows = ids.getShape().get(0);
        int t = Math.toIntExact(ids.getShape().get(1));
        NDArray text = ids.getNDArrayInternal()
                .embedding(ids.toType(DataType.INT64, false), value(ps, embedTokens, pixels, training), SparseFormat.DENSE)
                .head();
        NDArray visual = projector.forward1(ps, vision.forward1(ps, pixels, training), training)
                .add(value(ps, patchPositions, pixels, training));
        // Gather from [text | visual] along the sequence: position p of row r takes visual token
        // p - start[r] inside the run, its own text embedding elsewhere.
        long[] index = new long[Math.toIntExact(rows) * t];
        for (int r = 0; r < rows; r++) {
            for (int p = 0; p < t; p++) {
                int v = p - starts[r];
                index[r * t + p] = v >= 0 && v < n ? t + v : p;
            }
        }
        NDArray idx = ids.getManager().create(index, new ai.djl.ndarray.types.Shape(rows, t, 1))
                .broadcast(new ai.djl.ndarray.types.Shape(rows, t, config.hidden()));
        return NDArrays.concat(new NDList(text, visual), 1).gather(idx, 1);
    }

    /** Position of each row's image placeholder run, checked to be one whole run. */
    private int[] imageStarts(NDArray ids) {
        long[] shape = ids.getShape().getShape();
        int rows = Math.toIntExact(shape[0]);
        int t = Math.toIntExact(shape[1]);
        int[] flat = ids.toType(DataType.INT32, false).toIntArray();
        int[] starts = new int[rows];
        for (int r = 0; r < rows; r++) {
            int first = -1;
            int count = 0;
            for (int i = 0; i < t; i++) {
                if (flat[r * t + i] == IMAGE_TOKEN) {
                    if (first < 0) {
                        first = i;
                    }
                    count++;
                }
            }
            if (count != config.visionTokens() || !contiguous(flat, r * t + first, count)) {
                throw new IllegalArgumentException("row " + r + " must hold one run of " + config.visionTokens()
                        + " image tokens, found " + count);
            }
            starts[r] = first;
        }
        return starts;
    }

    private static boolean contiguous(int[] flat, int from, int count) {
        for (int i = from; i < from + count; i++) {
            if (flat[i] != IMAGE_TOKEN) {
                return false;
            }
        }
        return true;
    }

    public LvlmConfig config() {
        return config;
    }

    /** The vision tower alone: pixels (B,3,H,W) to patch features (B, patches, vision width). */
    public VisionTower visionTower() {
        return vision;
    }

    public WeightRegistry weights() {
        return registry;
    }

    public List<DecoderLayer> layers() {
        return Collections.unmodifiableList(layers);
    }

    /** Every linear inside the decoder layers (q, k, v, o, gate, up, down of each layer), in order. */
    public List<QuantizableLinear> decoderLinears() {
        List<QuantizableLinear> all = new ArrayList<>();
        for (DecoderLayer layer : layers) {
            all.addAll(layer.linears());
        }
        return all;
    }

    public QuantizableLinear lmHead() {
        return lmHead;
    }

    /** Number of scalar parameters. */
    public long parameterCount() {
        long n = 0;
        for (Parameter p : registry.parameters().values()) {
            n += p.getShape().size();
        }
        return n;
    }
}
