package dev.qig.core.engine.gptq;

import dev.qig.core.engine.GroupQuantizer;
import dev.qig.core.engine.LayerGroups;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.ParameterStore;
import dev.qig.data.VisualQuestion;
import dev.qig.core.model.DecoderLayer;
import dev.qig.core.model.GradientRecording;
import dev.qig.core.model.NDScope;
import dev.qig.core.model.QuantizableLinear;
import dev.qig.core.model.VisionLanguageModel;
import dev.qig.core.engine.ActivationQuantizer;
import dev.qig.quant.EqualizationGroup;
import dev.qig.quant.GroupKey;
import dev.qig.core.engine.QuantConfigApplier;
import dev.qig.quant.QuantScheme;
import dev.qig.core.engine.QuantizedWeights;
import dev.qig.core.vqa.VqaBatch;
import dev.qig.core.vqa.VqaModel;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * GPTQ over a whole model, layer by layer as the reference ({@code llama_sequential}): for decoder
 * layer l, the calibration samples' hidden states, carried from layer to layer through the layers
 * before l already replaced by their GPTQ weights (with the scheme's activation quantization), run
 * through layer l in full precision; the inputs of layer
 * l's linears are summed into one {@link HessianSum} per input site (q/k/v share one, gate/up
 * another, o and down one each), and every linear of l is quantized against its site's Hessian
 * ({@link Gptq}). The model is back in full precision afterwards.
 *
 * <p>With token weights (QIG-GPTQ) each token's outer product is weighted by its QIG weight lambda
 * for the equalization group whose input the site is (o takes its attention block's QKV weights
 * where the model has no O group): {@code H = sum_t lambda_t x_t x_t^T}. Padding never enters.
 *
 * <p>Exact and deterministic: each Hessian is an exact sum, so neither the batch size nor the order
 * of the samples changes the result.
 */
public final class GptqCalibrator {

    /** Per sample (in the order of the samples), per group, one weight per token; what QIG-GPTQ weights with. */
    public interface TokenWeights {
        float[] weights(int sample, GroupKey group);
    }

    /**
     * The outcome: the quantized weights of every decoder linear, each linear's GPTQ error (the
     * weighted mean squared output error on the calibration tokens) and the time taken.
     */
    public record Result(QuantizedWeights weights, Map<String, Double> errors, double seconds) {}

    private final VqaModel vqa;
    private final QuantScheme scheme;
    private final Gptq gptq;
    private final int batchSize;

    /**
     * @param percdamp damping as a fraction of mean(diag H) (the reference's 0.01)
     * @param actOrder visit columns by descending diag(H)
     * @param batchSize samples per forward pass; the result does not depend on it
     */
    public GptqCalibrator(VqaModel vqa, QuantScheme scheme, double percdamp, boolean actOrder, int batchSize) {
        if (scheme.weightBits() > 8) {
            throw new IllegalArgumentException("GPTQ here stores codes of at most 8 bits, not " + scheme.weightBits());
        }
        this.vqa = vqa;
        this.scheme = scheme;
        this.gptq = new Gptq(GroupQuantizer.of(scheme), percdamp, actOrder);
        this.batchSize = batchSize;
    }

    /**
     * Quantizes every decoder linear.
     *
     * @param tokenWeights per-token weights (QIG-GPTQ), or null for plain GPTQ
     * @param progress receives (what, done) after every batch and layer
     * @throws IllegalStateException if the model carries a quantization config
     */
    public Result calibrate(List<? extends VisualQuestion> samples, TokenWeights tokenWeights, NDManager manager,
                            BiConsumer<String, Integer> progress) {
        VisionLanguageModel model = vqa.model();
        if (QuantConfigApplier.carriesQuantization(model)) {
            throw new IllegalStateException("the model carries a quantization config; GPTQ needs its full-precision weights");
        }
        GradientRecording.offInThisThread(); // weights are replaced in place below
        long start = System.nanoTime();
        Map<String, QuantizedWeights.Linear> done = new LinkedHashMap<>();
        Map<String, Double> errors = new LinkedHashMap<>();
        List<QuantizableLinear> replaced = new ArrayList<>();
        ActivationQuantizer act = ActivationQuantizer.of(scheme);
        // As the reference: each batch's hidden states are carried from layer to layer, so layer l's inputs
        // come from one pass through layer l-1 (already quantized), not from the model run again from the start.
        List<VqaBatch> batches = new ArrayList<>();
        List<NDArray> hidden = new ArrayList<>();
        try (NDManager cache = manager.newSubManager()) {
            ParameterStore ps = new ParameterStore(cache, false);
            for (int from = 0; from < samples.size(); from += batchSize) {
                VqaBatch batch = vqa.teacherForced(samples.subList(from, Math.min(samples.size(), from + batchSize)));
                batches.add(batch);
                try (NDManager m = cache.newSubManager()) {
                    NDArray h = model.inputEmbeddings(ps, batch.pixels(m), batch.tokenIds(m), false);
                    h.attach(cache);
                    hidden.add(h);
                }
            }
            for (DecoderLayer layer : model.layers()) {
                Map<QuantizableLinear, Site> sites = sites(layer);
                String what = "gptq layer " + (layer.index() + 1) + "/" + model.layers().size();
                int first = 0;
                for (int i = 0; i < batches.size(); i++) {
                    VqaBatch batch = batches.get(i);
                    int firstSample = first;
                    try {
                        for (Map.Entry<QuantizableLinear, Site> e : sites.entrySet()) {
                            Site site = e.getValue();
                            e.getKey().setInputListener((linear, x) -> site.add(x, batch, firstSample, tokenWeights));
                        }
                        NDScope.apply(hidden.get(i), x -> layer.forward1(ps, x, false)).close();
                    } finally {
                        sites.keySet().forEach(l -> l.setInputListener(null));
                    }
                    first += batch.rows();
                    progress.accept(what, first);
                }
                for (QuantizableLinear l : layer.linears()) {
                    Site site = sites.get(l) != null ? sites.get(l) : siteOf(sites, l);
                    float[] w = l.weight().toType(DataType.FLOAT32, false).toFloatArray();
                    Gptq.Result r = gptq.quantize(w, l.outFeatures(), l.inFeatures(), site.matrix());
                    QuantizedWeights.Linear q = new QuantizedWeights.Linear(r.rows(), r.columns(), r.groupSize(), r.codes(),
                            r.scales(), r.zeros(), r.groupIndex());
                    done.put(l.name(), q);
                    errors.put(l.name(), r.error());
                    float[] values = r.dequantized();
                    l.replaceWeight(x -> x.getManager().create(values, x.getShape()).toType(x.getDataType(), false));
                    replaced.add(l);
                    if (act != null) {
                        l.setInputQuantizer(act);
                    }
                }
                if (layer.index() + 1 < model.layers().size()) {
                    for (int i = 0; i < hidden.size(); i++) {
                        NDArray next = NDScope.apply(hidden.get(i), x -> layer.forward1(ps, x, false));
                        hidden.get(i).close();
                        hidden.set(i, next);
                    }
                }
                progress.accept(what + " quantized", samples.size());
            }
        } finally {
            for (QuantizableLinear l : replaced) {
                l.restoreWeight();
                l.setInputQuantizer(null);
            }
        }
        return new Result(new QuantizedWeights(scheme.weightBits(), scheme.symmetric(), done), errors,
                (System.nanoTime() - start) / 1e9);
    }

    /** One Hessian per input site; the site's first linear feeds it (its siblings see the same input). */
    private Map<QuantizableLinear, Site> sites(DecoderLayer layer) {
        Map<QuantizableLinear, Site> sites = new IdentityHashMap<>();
        for (EqualizationGroup g : EqualizationGroup.values()) {
            List<QuantizableLinear> linears = LayerGroups.linears(g, layer);
            GroupKey weightsFrom = new GroupKey(layer.index(),
                    LayerGroups.appliesTo(g, layer) ? g : EqualizationGroup.QKV); // o without an O group: its block's weights
            sites.put(linears.get(0), new Site(linears, weightsFrom, linears.get(0).inFeatures()));
        }
        return sites;
    }

    private static Site siteOf(Map<QuantizableLinear, Site> sites, QuantizableLinear l) {
        for (Site s : sites.values()) {
            if (s.linears.contains(l)) {
                return s;
            }
        }
        throw new IllegalStateException(l.name() + " belongs to no input site");
    }

    private static final class Site {
        final List<QuantizableLinear> linears;
        final GroupKey weightsFrom;
        final HessianSum sum;
        double[] matrix;

        Site(List<QuantizableLinear> linears, GroupKey weightsFrom, int dimension) {
            this.linears = linears;
            this.weightsFrom = weightsFrom;
            this.sum = new HessianSum(dimension);
        }

        /** Adds every row's real tokens (input (rows, T, in), padding left out). */
        void add(NDArray x, VqaBatch batch, int firstSample, TokenWeights tokenWeights) {
            float[] all = x.toType(DataType.FLOAT32, false).toFloatArray();
            int t = batch.length();
            int n = sum.dimension();
            for (int r = 0; r < batch.rows(); r++) {
                int len = batch.length(r);
                float[] rows = new float[len * n];
                System.arraycopy(all, r * t * n, rows, 0, len * n);
                float[] w = null;
                if (tokenWeights != null) {
                    w = tokenWeights.weights(firstSample + r, weightsFrom);
                    if (w.length != len) {
                        throw new IllegalArgumentException("sample " + (firstSample + r) + ": " + w.length
                                + " token weights for " + len + " tokens of " + weightsFrom);
                    }
                }
                sum.add(rows, len, w);
            }
        }

        double[] matrix() {
            if (matrix == null) {
                matrix = sum.toMatrix();
            }
            return matrix;
        }
    }
}
