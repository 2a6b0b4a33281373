package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * LLaVA-style vision-language model: {@link VisionTower} -> {@link Projector} -> Llama/Qwen2 decoder
 * ({@code model.embed_tokens}, {@code model.layers.N}, {@code model.norm}) -> {@code lm_head}. The
 * same blocks run the test-bed model and Hugging Face {@code LlavaForConditionalGeneration}
 * checkpoints; {@link LvlmConfig} says which variant.
 *
 * <p>Forward input: {@code NDList(pixels (I,3,H,W), tokenIds (B,T))}, or {@code NDList(tokenIds)}
 * for text alone. Every position holding the config's image token id takes one projected vision
 * token, images and their tokens in order over the whole batch, as transformers' masked_scatter
 * does; the test-bed model further asks for one contiguous run per row and one image per row.
 * Output: {@code NDList(logits (B,T,V), final normalized hidden states (B,T,D), residual stream
 * after decoder layer 0, ..., after the last layer (each (B,T,D)))}; the per-layer states cost
 * nothing extra and let training losses probe intermediate layers.
 */
public final class VisionLanguageModel extends ModelBlock {

    /** Id of the test-bed model's image placeholder token (a Hugging Face config names its own: {@link LvlmConfig#imageTokenId}). */
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
        this.projector = addChildBlock("projector",
                new Projector(registry, "multi_modal_projector", c.visionHidden(), c.hidden(), c.projectorAct()));
        this.embedTokens = param("model.embed_tokens.weight", Init.NORMAL, c.vocabSize(), c.hidden());
        this.patchPositions = c.patchPositionEmbedding() ? param(PATCH_POSITION_EMBEDDING, Init.ZEROS, c.visionTokens(), c.hidden()) : null;
        for (int i = 0; i < c.layers(); i++) {
            layers.add(addChildBlock("layer" + i, new DecoderLayer(registry, "model.layers." + i, i, c)));
        }
        this.finalNorm = addChildBlock("norm", new RmsNorm(registry, "model.norm", c.hidden(), c.rmsNormEps()));
        // Tied (Qwen2-0.5B): one matrix, not a copy of 150k x 896 floats (0.5 GB) that would also drift apart if edited.
        this.lmHead = addChildBlock("lm_head", c.tieEmbeddings() ? QuantizableLinear.tiedTo(registry, "lm_head", embedTokens)
                : new QuantizableLinear(registry, "lm_head", c.hidden(), c.vocabSize(), false));
    }

    /** A model with freshly initialized weights, drawn deterministically from {@code seed}. */
    public static VisionLanguageModel create(LvlmConfig config, NDManager manager, long seed) {
        VisionLanguageModel model = new VisionLanguageModel(new WeightRegistry(seed), config);
        model.initialize(manager, DataType.FLOAT32);
        return model;
    }

    /** A model whose weights are all zero, for a loader to overwrite (see {@link WeightRegistry#forLoading()}). */
    public static VisionLanguageModel allocate(LvlmConfig config, NDManager manager) {
        VisionLanguageModel model = new VisionLanguageModel(WeightRegistry.forLoading(), config);
        model.initialize(manager, DataType.FLOAT32);
        return model;
    }

    /** Every parameter's name and shape for a config, with nothing allocated (a loader checks a checkpoint against it). */
    public static java.util.Map<String, long[]> parameterShapes(LvlmConfig config) {
        java.util.Map<String, long[]> shapes = new java.util.LinkedHashMap<>();
        new VisionLanguageModel(WeightRegistry.forLoading(), config).weights().parameters()
                .forEach((name, p) -> shapes.put(name, p.getShape().getShape()));
        return shapes;
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray pixels = inputs.size() > 1 ? inputs.get(0) : null;
        NDArray ids = inputs.get(inputs.size() - 1);
        NDArray h = inputEmbeddings(ps, pixels, ids, training);
        NDList perLayer = new NDList(layers.size());
        for (DecoderLayer layer : layers) {
            // A layer's temporaries are freed as it ends (autograd keeps what backward needs): at 0.5 B
            // parameters and 800 tokens they are 0.25 GB a layer, 11 GB over a forward pass if kept.
            h = NDScope.apply(h, x -> layer.forward1(ps, x, training));
            perLayer.add(h);
        }
        NDArray normed = finalNorm.forward1(ps, h, training);
        NDList out = new NDList(lmHead.forward1(ps, normed, training), normed);
        out.addAll(perLayer);
        return out;
    }

    /**
     * Token embeddings with the image token positions filled by the projected vision tokens, in
     * order over the batch: (B,T,D). {@code pixels} may be null when no row holds an image token.
     */
    public NDArray inputEmbeddings(ParameterStore ps, NDArray pixels, NDArray ids, boolean training) {
        long rows = ids.getShape().get(0);
        int t = Math.toIntExact(ids.getShape().get(1));
        int d = config.hidden();
        int[] flat = ids.toType(DataType.INT32, false).toIntArray();
        int[] imagePositions = imagePositions(flat, Math.toIntExact(rows), t, pixels == null ? 0 : pixels.getShape().get(0));
        NDArray lookupIds = ids.toType(DataType.INT64, false);
        if (config.imageTokenId() >= config.vocabSize() && imagePositions.length > 0) {
            // A checkpoint may give <image> an id past its embedding matrix; those rows are replaced below anyway.
            long[] clamped = new long[flat.length];
            for (int p = 0; p < flat.length; p++) {
                clamped[p] = flat[p] == config.imageTokenId() ? 0 : flat[p];
            }
            lookupIds = ids.getManager().create(clamped, ids.getShape());
        }
        NDArray text = ids.getNDArrayInternal()
                .embedding(lookupIds, value(ps, embedTokens, ids, training), SparseFormat.DENSE)
                .head();
        if (imagePositions.length == 0) {
            return text;
        }
        NDArray visual = imageFeatures(ps, pixels, training);
        // Gather from [text | visual], both flattened over the batch: position p takes the next vision
        // token if it holds the image token, its own text embedding otherwise.
        int total = Math.toIntExact(rows) * t;
        long[] index = new long[total];
        for (int p = 0, v = 0; p < total; p++) {
            index[p] = v < imagePositions.length && imagePositions[v] == p ? total + v++ : p;
        }
        NDArray idx = ids.getManager().create(index, new Shape(1, total, 1)).broadcast(new Shape(1, total, d));
        NDArray all = NDArrays.concat(new NDList(text.reshape(1, total, d), visual.reshape(1, -1, d)), 1);
        return all.gather(idx, 1).reshape(rows, t, d);
    }

    /** Projected vision tokens of a batch of images: (I, visionTokens, D). */
    public NDArray imageFeatures(ParameterStore ps, NDArray pixels, boolean training) {
        NDArray visual = projector.forward1(ps, vision.forward1(ps, pixels, training), training);
        return patchPositions == null ? visual : visual.add(value(ps, patchPositions, pixels, training));
    }

    /** Flat positions (row * T + p) of the image tokens, checked against the number of images. */
    private int[] imagePositions(int[] flat, int rows, int t, long images) {
        int n = config.visionTokens();
        int image = config.imageTokenId();
        int[] positions = java.util.stream.IntStream.range(0, flat.length).filter(p -> flat[p] == image).toArray();
        if (positions.length != images * n) {
            throw new IllegalArgumentException("the token ids hold " + positions.length + " image tokens, but " + images
                    + " image(s) of " + n + " vision tokens give " + images * n);
        }
        if (config.vision() == LvlmConfig.VisionKind.TEST_BED) {
            // The test bed's patch position embedding belongs to one whole image per row.
            for (int r = 0; r < rows; r++) {
                int first = r * n;
                if (images != rows || positions[first + n - 1] - positions[first] != n - 1 || positions[first] / t != r
                        || positions[first + n - 1] / t != r) {
                    throw new IllegalArgumentException("row " + r + " must hold one run of " + n + " image tokens");
                }
            }
        }
        return positions;
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
