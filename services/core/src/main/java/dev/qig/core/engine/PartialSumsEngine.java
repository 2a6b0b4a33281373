package dev.qig.core.engine;

import dev.qig.quant.AlphaGrid;
import dev.qig.quant.CalibrationPlan;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.CalibrationSums;
import dev.qig.quant.EqualizationGroup;
import dev.qig.quant.GroupErrors;
import dev.qig.quant.GroupKey;
import dev.qig.quant.GroupStatistics;
import dev.qig.quant.InputRange;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.quant.QuantScheme;
import dev.qig.quant.TokenScores;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.qig.data.TokenModality;
import dev.qig.data.VisualQuestion;
import dev.qig.core.model.DecoderLayer;
import dev.qig.core.model.GradientRecording;
import dev.qig.core.model.QuantizableLinear;
import dev.qig.core.model.VisionLanguageModel;
import dev.qig.core.vqa.VqaBatch;
import dev.qig.core.vqa.VqaModel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.UnaryOperator;

/**
 * The work of calibration for a set of samples and a plan, reduced to per-sample additive partial
 * sums per (layer, group) (see {@link CalibrationSums}): the one code path under both the batch
 * calibrator and the streaming attributor.
 *
 * <p>Per batch of samples: (1) a full-precision teacher-forced pass with probes on the outputs of o
 * and down and a backward pass of the answer loss (MBQ's gradients), capturing every group's input;
 * (2) for schemes that need it, a pass through the model quantized with the plan's distortion
 * config, capturing the distorted inputs x_q; (3) per group: channel |x| sums, QIG token weights by
 * integrated gradients, and for every alpha of the grid the per-token output error of the
 * candidate, summed over all / answer / vision tokens and weighted by lambda.
 *
 * <p>Samples are independent: padding positions are masked out of every sum and target, so a
 * sample's partials do not depend on the other samples of its batch. Not thread-safe (integrated
 * gradients need the JVM's single gradient collector).
 */
public final class PartialSumsEngine {

    /**
     * One sample's results: partial sums and QIG attributions per group. A sample whose activations,
     * gradients or errors are not finite has no sums and names the first such value in
     * {@code problem}; the other samples of its batch are unaffected (rows never mix).
     */
    public record SampleResult(
            String sampleId,
            CalibrationSums sums,
            Map<GroupKey, float[]> lambda,
            Map<GroupKey, float[]> rawScores,
            TokenModality[] modality,
            String problem) {

        public boolean ok() {
            return problem == null;
        }
    }

    private final VqaModel vqa;
    private final VisionLanguageModel model;
    private final CalibrationSettings settings;
    private final String modelId;
    private final EngineTimings timings = new EngineTimings();

    public PartialSumsEngine(VqaModel vqa, CalibrationSettings settings, String modelId) {
        this.vqa = vqa;
        this.model = vqa.model();
        this.settings = settings;
        this.modelId = modelId;
        // Calibration never trains: no parameter gradients, about 30% less work in the IG passes.
        model.freezeParameters(true);
    }

    public CalibrationSettings settings() {
        return settings;
    }

    /** Time spent per phase since construction (or the last reset). */
    public EngineTimings timings() {
        return timings;
    }

    /**
     * Partials of every sample, in order; batches of {@code settings.batchSize()} go through at once.
     *
     * @throws IllegalStateException if the model carries a quantization config: the engine needs the
     *     full-precision weights it compares every candidate against
     */
    public List<SampleResult> attribute(List<? extends VisualQuestion> samples, CalibrationPlan plan,
                                        Set<Method> methods, NDManager manager) {
        return attribute(samples, plan, methods, manager, true);
    }

    /**
     * QIG's token weights of every sample under the plan, in order, without the alpha grid: results
     * whose {@link SampleResult#lambda()} is what {@link #attribute} gives for QIG, and whose sums hold
     * statistics only. What QIG-GPTQ weights its Hessians with.
     */
    public List<SampleResult> tokenWeights(List<? extends VisualQuestion> samples, CalibrationPlan plan, NDManager manager) {
        return attribute(samples, plan, java.util.EnumSet.of(Method.QIG), manager, false);
    }

    private List<SampleResult> attribute(List<? extends VisualQuestion> samples, CalibrationPlan plan,
                                         Set<Method> methods, NDManager manager, boolean grid) {
        GradientRecording.offInThisThread(); // any thread may calibrate: see GradientRecording
        if (QuantConfigApplier.carriesQuantization(model)) {
            throw new IllegalStateException("the model carries a quantization config; calibration needs its "
                    + "full-precision weights (close the applied config first)");
        }
        List<SampleResult> out = new ArrayList<>(samples.size());
        for (int from = 0; from < samples.size(); from += settings.batchSize()) {
            out.addAll(attributeBatch(samples.subList(from, Math.min(samples.size(), from + settings.batchSize())),
                    plan, methods, manager, grid));
        }
        return out;
    }

    /**
     * Points at which the integrated gradients of a group are evaluated: the rule's, except for a
     * single linear (o, down) from a zero baseline with both branches differentiated (W3A16-like
     * schemes, the reference code's behaviour), whose target is homogeneous along the path: one
     * gradient there gives the rule's exact value.
     */
    public int igPoints(DecoderLayer layer, EqualizationGroup group) {
        boolean homogeneous = LayerGroups.moduleLinears(group, layer).size() == 1 && !settings.scheme().quantizesActivations()
                && settings.behaviour() == CalibrationSettings.Behaviour.REFERENCE_CODE;
        return homogeneous ? 1 : settings.igSteps();
    }

    /** The group keys of this model, in order (O only where v and o shapes match). */
    public List<GroupKey> groupKeys() {
        List<GroupKey> keys = new ArrayList<>();
        for (DecoderLayer layer : model.layers()) {
            for (EqualizationGroup g : EqualizationGroup.values()) {
                if (LayerGroups.appliesTo(g, layer)) {
                    keys.add(new GroupKey(layer.index(), g));
                }
            }
        }
        return keys;
    }

    private List<SampleResult> attributeBatch(List<? extends VisualQuestion> samples, CalibrationPlan plan,
                                              Set<Method> methods, NDManager parent, boolean grid) {
        VqaBatch batch = vqa.teacherForced(samples);
        int rows = batch.rows();
        int t = batch.length();
        TokenModality[][] modality = new TokenModality[rows][];
        float[] mask = new float[rows * t];
        for (int r = 0; r < rows; r++) {
            modality[r] = batch.modality(r);
            for (int p = 0; p < batch.length(r); p++) {
                mask[r * t + p] = 1f;
            }
        }
        List<GroupKey> keys = groupKeys();
        Map<GroupKey, RowSums[]> partials = new TreeMap<>();
        Map<GroupKey, float[][]> lambdas = new TreeMap<>();
        Map<GroupKey, float[][]> raw = new TreeMap<>();
        Map<GroupKey, float[][]> ranges = Map.of();
        Map<GroupKey, GroupStatistics[]> vision = new TreeMap<>();

        try (NDManager m = parent.newSubManager()) {
            ParameterStore ps = new ParameterStore(m, false);
            NDArray maskNd = m.create(mask, new Shape(rows, t));
            Map<GroupKey, NDArray> xFp = new HashMap<>();
            Map<Integer, float[][]> gradAttention = new HashMap<>();
            Map<Integer, float[][]> gradMlp = new HashMap<>();
            long t0 = System.nanoTime();
            boolean gradients = methods.contains(Method.MBQ);
            // Static schemes also need the range of o's input where o is no group of its own (GQA).
            List<GroupKey> captured = settings.scheme().staticActivations() ? rangeSites() : keys;
            fullPrecisionPass(batch, m, ps, captured, xFp, gradAttention, gradMlp, gradients);
            long t1 = System.nanoTime();
            timings.add(gradients ? EngineTimings.Phase.GRADIENT : EngineTimings.Phase.FORWARD, t1 - t0);
            Map<GroupKey, NDArray> xQ = settings.needsDistortedStream() ? distortedPass(batch, m, ps, keys, plan) : xFp;
            timings.add(EngineTimings.Phase.DISTORTED, System.nanoTime() - t1);
            timings.addSamples(rows);
            if (settings.scheme().staticActivations()) {
                ranges = channelAbsMax(xFp, maskNd, rows);
            }
            visionStatistics(xFp, batch, m, vision);

            for (GroupKey key : keys) {
                // Every array a group makes (quantized weight candidates, module outputs, IG points) is
                // closed when the group is done; only plain sums leave it. Kept on the batch's manager
                // instead, they reach 20 GB over a 24-layer model at 800 tokens.
                try (ai.djl.ndarray.NDScope groupScope = new ai.djl.ndarray.NDScope()) {
                    groupScope.suppressNotUsedWarning();
                    DecoderLayer layer = model.layers().get(key.layer());
                    EqualizationGroup group = key.group();
                    boolean search = plan.searches(key);
                    RowSums[] perRow = new RowSums[rows];
                    for (int r = 0; r < rows; r++) {
                        perRow[r] = new RowSums(LayerGroups.channels(group, layer), search && grid);
                    }
                    NDArray gridInput = settings.scheme().quantizesActivations() ? xQ.get(key) : xFp.get(key);
                    GroupInputs inputs = new GroupInputs(layer, group, ps, xFp.get(key), xQ.get(key), gridInput);

                    // Channel statistics of the search input, real tokens only.
                    float[] absSums = gridInput.abs().mul(maskNd.expandDims(-1)).sum(new int[] {1}).toFloatArray();
                    int channels = LayerGroups.channels(group, layer);
                    for (int r = 0; r < rows; r++) {
                        for (int c = 0; c < channels; c++) {
                            perRow[r].absSum[c] = absSums[r * channels + c];
                        }
                        perRow[r].tokens = batch.length(r);
                        float[][] grads = (group.side() == EqualizationGroup.Side.ATTENTION ? gradAttention : gradMlp).get(key.layer());
                        addGradientSums(perRow[r], grads[r], modality[r], batch.length(r));
                    }

                    float[][] lambda = null;
                    if (search && methods.contains(Method.QIG)) {
                        long ti = System.nanoTime();
                        float[][] u = qigScores(inputs, maskNd, rows, t);
                        lambda = new float[rows][];
                        float[][] scores = new float[rows][];
                        for (int r = 0; r < rows; r++) {
                            scores[r] = java.util.Arrays.copyOf(u[r], batch.length(r));
                            lambda[r] = TokenScores.weights(scores[r], settings.iqrClip());
                        }
                        lambdas.put(key, lambda);
                        raw.put(key, scores);
                        timings.add(EngineTimings.Phase.INTEGRATED_GRADIENTS, System.nanoTime() - ti);
                    }
                    if (search && grid) {
                        long tg = System.nanoTime();
                        gridErrors(inputs, plan.mu().get(key), lambda, modality, batch, perRow);
                        timings.add(EngineTimings.Phase.GRID, System.nanoTime() - tg);
                    }
                    partials.put(key, perRow);
                }
            }
        }

        List<SampleResult> results = new ArrayList<>(rows);
        for (int r = 0; r < rows; r++) {
            Map<GroupKey, GroupStatistics> statistics = new TreeMap<>();
            Map<GroupKey, GroupErrors> errors = new TreeMap<>();
            Map<GroupKey, float[]> l = new LinkedHashMap<>();
            Map<GroupKey, float[]> u = new LinkedHashMap<>();
            String problem = null;
            Map<GroupKey, InputRange> rowRanges = new TreeMap<>();
            for (Map.Entry<GroupKey, float[][]> e : ranges.entrySet()) {
                try {
                    rowRanges.put(e.getKey(), InputRange.of(e.getValue()[r]));
                } catch (ArithmeticException ex) {
                    problem = "non-finite input range in " + e.getKey() + " (" + ex.getMessage() + ")";
                }
            }
            Map<GroupKey, GroupStatistics> rowVision = new TreeMap<>();
            int row = r;
            vision.forEach((k, v) -> {
                if (v[row] != null) {
                    rowVision.put(k, v[row]);
                }
            });
            for (GroupKey key : partials.keySet()) {
                if (problem != null) {
                    break;
                }
                RowSums s = partials.get(key)[r];
                try {
                    statistics.put(key, s.statistics());
                    if (s.searched) {
                        errors.put(key, s.errors());
                    }
                } catch (ArithmeticException e) {
                    problem = "non-finite values in " + key + " (" + e.getMessage() + ")";
                    break;
                }
                if (lambdas.containsKey(key)) {
                    l.put(key, lambdas.get(key)[r]);
                    u.put(key, raw.get(key)[r]);
                }
            }
            results.add(new SampleResult(samples.get(r).id(),
                    problem == null ? CalibrationSums.ofSample(statistics, errors, rowRanges, rowVision) : null,
                    problem == null ? l : Map.of(), problem == null ? u : Map.of(),
                    java.util.Arrays.copyOf(modality[r], batch.length(r)), problem));
        }
        return results;
    }

    /**
     * Teacher-forced full-precision pass: captures each group's input and, through zero-valued probes
     * added to the outputs of o and down, the gradient of the answer loss at those outputs. The loss
     * is the sum over samples of each sample's mean answer cross-entropy, so each sample's gradients
     * are what it would get alone.
     */
    private void fullPrecisionPass(VqaBatch batch, NDManager m, ParameterStore ps, List<GroupKey> keys,
                                   Map<GroupKey, NDArray> inputs, Map<Integer, float[][]> gradAttention,
                                   Map<Integer, float[][]> gradMlp, boolean withGradients) {
        int rows = batch.rows();
        if (!withGradients) {
            // Only MBQ reads the gradients: without it, a plain forward pass captures the inputs.
            captureInputs(keys, inputs, m);
            try {
                vqa.logits(ps, batch, m, false);
            } finally {
                clearHooks();
            }
            float[][] none = new float[rows][batch.length()];
            for (DecoderLayer layer : model.layers()) {
                gradAttention.put(layer.index(), none);
                gradMlp.put(layer.index(), none);
            }
            return;
        }
        Map<Integer, NDArray> probesAttention = new HashMap<>();
        Map<Integer, NDArray> probesMlp = new HashMap<>();
        captureInputs(keys, inputs, m);
        for (DecoderLayer layer : model.layers()) {
            layer.attention().o().setOutputTap(probe(m, probesAttention, layer.index()));
            layer.mlp().down().setOutputTap(probe(m, probesMlp, layer.index()));
        }
        try (GradientRecording gc = GradientRecording.open()) {
            NDArray[] tw = batch.answerTargets(m);
            NDArray logp = vqa.logits(ps, batch, m, false).logSoftmax(-1);
            NDArray perToken = logp.gather(tw[0].expandDims(-1), 2).squeeze(-1).mul(tw[1]);
            NDArray perSample = perToken.sum(new int[] {1}).div(tw[1].sum(new int[] {1}));
            gc.backward(perSample.sum().neg());
        } finally {
            clearHooks();
        }
        for (DecoderLayer layer : model.layers()) {
            gradAttention.put(layer.index(), meanAbsPerToken(probesAttention.get(layer.index()), rows));
            gradMlp.put(layer.index(), meanAbsPerToken(probesMlp.get(layer.index()), rows));
        }
    }

    private static UnaryOperator<NDArray> probe(NDManager m, Map<Integer, NDArray> probes, int layer) {
        return y -> {
            NDArray p = m.zeros(y.getShape(), y.getDataType());
            p.setRequiresGradient(true);
            probes.put(layer, p);
            return y.add(p);
        };
    }

    private static float[][] meanAbsPerToken(NDArray probe, int rows) {
        float[] flat = probe.getGradient().abs().mean(new int[] {-1}).toFloatArray();
        int t = flat.length / rows;
        float[][] out = new float[rows][t];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(flat, r * t, out[r], 0, t);
        }
        return out;
    }

    private static void addGradientSums(RowSums p, float[] grads, TokenModality[] modality, int length) {
        double vision = 0;
        double answer = 0;
        long nv = 0;
        long na = 0;
        for (int i = 0; i < length; i++) {
            if (modality[i] == TokenModality.VISION) {
                vision += grads[i];
                nv++;
            } else if (modality[i] == TokenModality.ANSWER) {
                answer += grads[i];
                na++;
            }
        }
        p.gradVisionSum = vision;
        p.gradVisionCount = nv;
        p.gradAnswerSum = answer;
        p.gradAnswerCount = na;
    }

    /**
     * The group inputs when the model is quantized with the plan's distortion config (RTN if none),
     * in the coordinates of the unscaled layer: where the config scales a group, its previous op was
     * divided by s, so the captured input is x_q / s and is multiplied back by s. Earlier layers keep
     * their scales and quantization (the reference's "every earlier layer already quantized with the
     * scales found so far"); the candidate scales of the search then apply to the same coordinates as
     * the full-precision input.
     */
    private Map<GroupKey, NDArray> distortedPass(VqaBatch batch, NDManager m, ParameterStore ps, List<GroupKey> keys,
                                                 CalibrationPlan plan) {
        QuantConfig distortion = plan.distortion() != null
                ? plan.distortion()
                : QuantConfig.rtn(modelId, settings.scheme().dynamicCounterpart(), Map.of()); // no ranges yet
        Map<GroupKey, NDArray> inputs = new HashMap<>();
        try (AppliedQuantization applied = QuantConfigApplier.apply(model, distortion)) {
            captureInputs(keys, inputs, m);
            vqa.logits(ps, batch, m, false);
        } finally {
            clearHooks();
        }
        distortion.groups().forEach((key, choice) -> {
            NDArray x = inputs.get(key);
            if (x != null) {
                inputs.put(key, x.mul(m.create(choice.scales())));
            }
        });
        return inputs;
    }

    /** Every input site of the model: the group keys plus o's input in layers without an O group. */
    private List<GroupKey> rangeSites() {
        List<GroupKey> sites = new ArrayList<>();
        for (DecoderLayer layer : model.layers()) {
            for (EqualizationGroup g : EqualizationGroup.values()) {
                sites.add(new GroupKey(layer.index(), g));
            }
        }
        return sites;
    }

    /** The sites whose vision tokens the drift check watches: the first layer's attention input. */
    public static final List<GroupKey> VISION_SITES = List.of(new GroupKey(0, EqualizationGroup.QKV));

    /**
     * Per vision site and row, the statistics of the row's vision tokens alone (full precision): the
     * drift check's view of the images. A row whose values are not finite gets none (its other sums
     * report the problem): null in its place.
     */
    private static void visionStatistics(Map<GroupKey, NDArray> inputs, VqaBatch batch, NDManager m,
                                         Map<GroupKey, GroupStatistics[]> out) {
        int rows = batch.rows();
        int t = batch.length();
        float[] mask = new float[rows * t];
        long[] count = new long[rows];
        for (int r = 0; r < rows; r++) {
            TokenModality[] modality = batch.modality(r);
            for (int p = 0; p < batch.length(r); p++) {
                if (modality[p] == TokenModality.VISION) {
                    mask[r * t + p] = 1f;
                    count[r]++;
                }
            }
        }
        NDArray visionMask = m.create(mask, new Shape(rows, t, 1));
        for (GroupKey site : VISION_SITES) {
            NDArray x = inputs.get(site);
            if (x == null) {
                continue;
            }
            int channels = Math.toIntExact(x.getShape().get(2));
            float[] sums = x.abs().mul(visionMask).sum(new int[] {1}).toFloatArray();
            GroupStatistics[] perRow = new GroupStatistics[rows];
            for (int r = 0; r < rows; r++) {
                double[] abs = new double[channels];
                for (int c = 0; c < channels; c++) {
                    abs[c] = sums[r * channels + c];
                }
                try {
                    perRow[r] = GroupStatistics.of(abs, count[r], 0, 0, 0, 0);
                } catch (ArithmeticException e) {
                    perRow[r] = null;
                }
            }
            out.put(site, perRow);
        }
    }

    /** Per site and row, the largest |x| of each channel over the row's real tokens. */
    private Map<GroupKey, float[][]> channelAbsMax(Map<GroupKey, NDArray> inputs, NDArray mask, int rows) {
        Map<GroupKey, float[][]> out = new TreeMap<>();
        for (GroupKey site : rangeSites()) {
            NDArray x = inputs.get(site);
            int channels = Math.toIntExact(x.getShape().get(2));
            float[] flat = x.abs().mul(mask.expandDims(-1)).max(new int[] {1}).toFloatArray();
            float[][] perRow = new float[rows][channels];
            for (int r = 0; r < rows; r++) {
                System.arraycopy(flat, r * channels, perRow[r], 0, channels);
            }
            out.put(site, perRow);
        }
        return out;
    }

    private void captureInputs(List<GroupKey> keys, Map<GroupKey, NDArray> inputs, NDManager manager) {
        for (GroupKey key : keys) {
            DecoderLayer layer = model.layers().get(key.layer());
            LayerGroups.inputOf(key.group(), layer).setInputListener((linear, x) -> {
                NDArray kept = x.stopGradient();
                kept.attach(manager); // outlives the layer's scope
                inputs.put(key, kept);
            });
        }
    }

    private void clearHooks() {
        for (DecoderLayer layer : model.layers()) {
            for (QuantizableLinear l : layer.linears()) {
                l.setInputListener(null);
                l.setOutputTap(null);
                l.setWeightOverride(null);
                l.setInputQuantizer(null);
            }
        }
    }

    /**
     * Raw QIG token scores u[row][t] = mean_c |IG[t, c]| of the module's quantization error
     * {@code F(z) = sum_t mean_c |f(z; w) - f(z; w_q)|[t]} (real tokens only).
     */
    private float[][] qigScores(GroupInputs g, NDArray mask, int rows, int t) {
        DecoderLayer layer = g.layer();
        EqualizationGroup group = g.group();
        ParameterStore ps = g.ps();
        NDArray xFp = g.xFp();
        NDArray xQ = g.xQ();
        QuantScheme scheme = settings.scheme();
        boolean a8 = scheme.quantizesActivations();
        NDArray baseline = settings.behaviour() == CalibrationSettings.Behaviour.PAPER || a8 ? xQ : xFp.zerosLike();
        List<QuantizableLinear> linears = LayerGroups.moduleLinears(group, layer);
        Map<QuantizableLinear, NDArray> quantized = new LinkedHashMap<>();
        GroupQuantizer q = GroupQuantizer.of(scheme);
        for (QuantizableLinear l : linears) {
            quantized.put(l, q.apply(l.weight()));
        }
        ActivationQuantizer act = ActivationQuantizer.of(scheme);
        int steps = settings.igSteps();
        boolean homogeneous = igPoints(layer, group) == 1;
        NDArray ig;
        try {
            java.util.function.Function<NDArray, NDArray> target = z -> {
                NDArray fp = LayerGroups.inspect(group, layer, ps, z);
                quantized.forEach((l, w) -> {
                    l.setWeightOverride(w);
                    l.setInputQuantizer(act);
                });
                NDArray qOut;
                try {
                    qOut = LayerGroups.inspect(group, layer, ps, z);
                } finally {
                    quantized.keySet().forEach(l -> {
                        l.setWeightOverride(null);
                        l.setInputQuantizer(null);
                    });
                }
                if (a8) {
                    qOut = qOut.stopGradient(); // reference code: the quantized branch is a constant
                }
                long n = z.getShape().get(0) / rows;
                NDArray m = mask.expandDims(0).broadcast(new Shape(n, rows, t)).reshape(n * rows, t);
                return fp.sub(qOut).abs().mean(new int[] {-1}).mul(m).sum();
            };
            ig = homogeneous
                    ? IntegratedGradients.integrateHomogeneousFromZero(target, xFp, steps, settings.igRule())
                    : IntegratedGradients.integrate(target, xFp, baseline, steps, settings.igChunkSteps(), settings.igRule());
        } finally {
            quantized.values().forEach(NDArray::close);
        }
        float[] flat = ig.abs().mean(new int[] {-1}).toFloatArray();
        float[][] u = new float[rows][t];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(flat, r * t, u[r], 0, t);
        }
        return u;
    }

    /** Per-alpha error sums of the group's candidates (qig-method.md section 2). */
    private void gridErrors(GroupInputs g, float[] mu, float[][] lambda, TokenModality[][] modality, VqaBatch batch,
                            RowSums[] perRow) {
        DecoderLayer layer = g.layer();
        EqualizationGroup group = g.group();
        ParameterStore ps = g.ps();
        NDArray xFp = g.xFp();
        NDArray xQ = g.xQ();
        NDArray gridInput = g.gridInput();
        QuantScheme scheme = settings.scheme();
        boolean a8 = scheme.quantizesActivations();
        GroupQuantizer q = GroupQuantizer.of(scheme);
        ActivationQuantizer act = ActivationQuantizer.of(scheme);
        NDArray reference = LayerGroups.inspect(group, layer, ps, xFp);
        NDArray referenceQig = a8 ? LayerGroups.inspect(group, layer, ps, xQ) : reference;
        List<QuantizableLinear> linears = LayerGroups.linears(group, layer);
        int rows = batch.rows();
        int t = batch.length();
        for (int a = 0; a < AlphaGrid.SIZE; a++) {
            float[] s = AlphaGrid.scales(mu, AlphaGrid.alpha(a));
            NDArray scale = xFp.getManager().create(s);
            NDArray out;
            try {
                for (QuantizableLinear l : linears) {
                    NDArray scaled = scale.mul(l.weight()); // on the batch's manager, not the model's
                    l.setWeightOverride(a8 ? q.apply(scaled) : q.apply(scaled).div(scale));
                    l.setInputQuantizer(act);
                }
                out = LayerGroups.inspect(group, layer, ps, a8 ? gridInput.div(scale) : gridInput);
            } finally {
                for (QuantizableLinear l : linears) {
                    l.setWeightOverride(null);
                    l.setInputQuantizer(null);
                }
            }
            float[] e = reference.sub(out).abs().mean(new int[] {-1}).toFloatArray();
            float[] eq = a8 ? referenceQig.sub(out).abs().mean(new int[] {-1}).toFloatArray() : e;
            for (int r = 0; r < rows; r++) {
                double all = 0;
                double answer = 0;
                double vision = 0;
                double qig = 0;
                for (int p = 0; p < batch.length(r); p++) {
                    double v = e[r * t + p];
                    all += v;
                    if (modality[r][p] == TokenModality.ANSWER) {
                        answer += v;
                    } else if (modality[r][p] == TokenModality.VISION) {
                        vision += v;
                    }
                    if (lambda != null) {
                        qig += lambda[r][p] * eq[r * t + p];
                    }
                }
                perRow[r].eAll[a] = all;
                perRow[r].eAnswer[a] = answer;
                perRow[r].eVision[a] = vision;
                perRow[r].eQig[a] = qig;
            }
        }
        for (int r = 0; r < rows; r++) {
            long na = 0;
            long nv = 0;
            double lambdaSum = 0;
            for (int p = 0; p < batch.length(r); p++) {
                na += modality[r][p] == TokenModality.ANSWER ? 1 : 0;
                nv += modality[r][p] == TokenModality.VISION ? 1 : 0;
                lambdaSum += lambda == null ? 0 : lambda[r][p];
            }
            perRow[r].nAll = batch.length(r);
            perRow[r].nAnswer = na;
            perRow[r].nVision = nv;
            perRow[r].lambdaSum = lambdaSum;
        }
    }

    /**
     * One group of one layer and what reaches it in a batch: its input in full precision ({@code
     * xFp}) and through the quantized layers before it ({@code xQ}), and the one the alpha grid
     * searches on ({@code xQ} when activations are quantized, else {@code xFp}).
     */
    private record GroupInputs(DecoderLayer layer, EqualizationGroup group, ParameterStore ps, NDArray xFp, NDArray xQ,
                               NDArray gridInput) {
    }

    /** One sample's sums of one group while the engine fills them in; plain values, one per field. */
    private static final class RowSums {
        final double[] absSum;
        long tokens;
        double gradVisionSum;
        long gradVisionCount;
        double gradAnswerSum;
        long gradAnswerCount;
        final boolean searched;
        final double[] eAll = new double[AlphaGrid.SIZE];
        final double[] eAnswer = new double[AlphaGrid.SIZE];
        final double[] eVision = new double[AlphaGrid.SIZE];
        final double[] eQig = new double[AlphaGrid.SIZE];
        long nAll;
        long nAnswer;
        long nVision;
        double lambdaSum;

        RowSums(int channels, boolean searched) {
            this.absSum = new double[channels];
            this.searched = searched;
        }

        GroupStatistics statistics() {
            return GroupStatistics.of(absSum, tokens, gradVisionSum, gradVisionCount, gradAnswerSum, gradAnswerCount);
        }

        GroupErrors errors() {
            return GroupErrors.of(eAll, eAnswer, eVision, eQig, nAll, nAnswer, nVision, lambdaSum);
        }
    }
}
