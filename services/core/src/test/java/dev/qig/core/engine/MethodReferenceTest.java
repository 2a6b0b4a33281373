package dev.qig.core.engine;

import dev.qig.quant.AlphaGrid;
import dev.qig.quant.CalibrationPlan;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.EqualizationGroup;
import dev.qig.quant.GroupKey;
import dev.qig.quant.IgRule;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.quant.QuantScheme;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Activation;
import ai.djl.training.ParameterStore;
import dev.qig.data.EncodedPrompt;
import dev.qig.data.TokenModality;
import dev.qig.data.VqaSample;
import dev.qig.core.model.DecoderLayer;
import dev.qig.core.model.GradientRecording;
import dev.qig.core.model.QuantizableLinear;
import dev.qig.core.vqa.VqaModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every method of the engine against a direct implementation written here: one sample at a time,
 * no batching, no partial sums, the MLP, the quantizers and the losses spelt out with plain tensor
 * ops. MBQ's gradient ratio with its median floor and its search; QIG's token weights from one
 * autograd call per interpolation point; AWQ's grid at W4A8 with per-token activation quantization
 * on the distorted inputs. (AWQ at W3A16 is {@code EngineTest.batchSearchFromSummedPartialsEqualsADirectSearch}.)
 */
class MethodReferenceTest {

    private static NDManager manager;
    private static VqaModel vqa;
    private static List<VqaSample> samples;

    @BeforeAll
    static void setUp() {
        manager = NDManager.newBaseManager();
        vqa = EngineFixture.model(manager, EngineFixture.gqa(), 12);
        samples = EngineFixture.samples(6, 31);
    }

    @AfterAll
    static void tearDown() {
        manager.close();
    }

    // --- the direct pieces ---

    /** SwiGLU MLP with explicit weights; silu(a) = a * sigmoid(a), no scalar constants (autograd-safe). */
    private static NDArray mlp(NDArray x, NDArray wg, NDArray wu, NDArray wd) {
        NDArray g = x.matMul(wg.transpose());
        return g.mul(Activation.sigmoid(g)).mul(x.matMul(wu.transpose())).matMul(wd.transpose());
    }

    /** Asymmetric min-max RTN over groups of {@code group} input channels, round half to even. */
    private static NDArray asymmetric(NDArray w, int bits, int group) {
        long rows = w.getShape().get(0);
        long in = w.getShape().get(1);
        int qmax = (1 << bits) - 1;
        NDArray x = w.reshape(rows, in / group, group);
        NDArray max = x.max(new int[] {-1}, true);
        NDArray min = x.min(new int[] {-1}, true);
        NDArray scale = max.sub(min).maximum(1e-5f).div(qmax);
        NDArray zero = min.div(scale).round().neg().clip(0, qmax);
        return x.div(scale).round().add(zero).clip(0, qmax).sub(zero).mul(scale).reshape(rows, in);
    }

    /** Symmetric absmax RTN along the last axis (per output row for weights, per token for inputs). */
    private static NDArray symmetric(NDArray x, int bits) {
        int qmax = (1 << (bits - 1)) - 1;
        NDArray scale = x.abs().max(new int[] {-1}, true).maximum(1e-5f).div(qmax);
        return x.div(scale).round().clip(-qmax - 1, qmax).mul(scale);
    }

    private static float[] scales(float[] mu, double alpha) {
        float[] s = new float[mu.length];
        double max = 0;
        double min = Double.MAX_VALUE;
        for (int c = 0; c < s.length; c++) {
            s[c] = (float) Math.max(Math.pow(mu[c], alpha), 1e-4);
            max = Math.max(max, s[c]);
            min = Math.min(min, s[c]);
        }
        for (int c = 0; c < s.length; c++) {
            s[c] /= (float) Math.sqrt(max * min);
        }
        return s;
    }

    private static int firstArgmin(double[] loss) {
        int best = 0;
        for (int a = 1; a < loss.length; a++) {
            if (loss[a] < loss[best]) {
                best = a;
            }
        }
        return best;
    }

    /** Each sample alone through the model, capturing the input of one linear: (T, C) per sample. */
    private static List<NDArray> inputsOf(QuantizableLinear linear, NDManager m) {
        ParameterStore ps = new ParameterStore(m, false);
        List<NDArray> inputs = new ArrayList<>();
        linear.setInputListener((l, x) -> {
            NDArray kept = x.squeeze(0);
            kept.attach(m);
            inputs.add(kept);
        });
        try {
            for (VqaSample s : samples) {
                vqa.logits(ps, vqa.teacherForced(List.of(s)), m, false);
            }
        } finally {
            linear.setInputListener(null);
        }
        return inputs;
    }

    private static EncodedPrompt prompt(VqaSample s) {
        return vqa.processor().encode(s.question(), s.answer(), vqa.model().config().visionTokens());
    }

    // --- the tests ---

    @Test
    void mbqRatioWithItsMedianFloorAndItsSearchMatchADirectComputation() {
        BatchCalibrator.Result engine = new BatchCalibrator(vqa, CalibrationSettings.defaults(QuantScheme.W3A16)
                .withBatchSize(4), "t").calibrate(EnumSet.of(Method.MBQ), samples, manager, (p, n) -> { });
        int layers = vqa.model().layers().size();
        try (NDManager m = manager.newSubManager()) {
            // r per layer on the MLP side: mean |dL/dy| at down's output over vision tokens, over that over
            // answer tokens, tokens pooled over samples; L is one sample's mean cross-entropy of its answer.
            double[] visionSum = new double[layers];
            double[] answerSum = new double[layers];
            long[] visionCount = new long[layers];
            long[] answerCount = new long[layers];
            for (VqaSample s : samples) {
                EncodedPrompt p = prompt(s);
                NDArray[] probes = new NDArray[layers];
                for (int l = 0; l < layers; l++) {
                    int layer = l;
                    vqa.model().layers().get(l).mlp().down().setOutputTap(y -> {
                        probes[layer] = m.zeros(y.getShape());
                        probes[layer].setRequiresGradient(true);
                        return y.add(probes[layer]);
                    });
                }
                try (GradientRecording gc = GradientRecording.open()) {
                    NDArray logp = vqa.logits(new ParameterStore(m, false), vqa.teacherForced(List.of(s)), m, false)
                            .logSoftmax(-1).squeeze(0);
                    int[] ids = p.tokenIds();
                    int n = ids.length - p.answerStart();
                    NDArray picked = null;
                    for (int t = p.answerStart() - 1; t < ids.length - 1; t++) {
                        NDArray lp = logp.get(t).get(ids[t + 1]);
                        picked = picked == null ? lp : picked.add(lp);
                    }
                    gc.backward(picked.div(m.create((float) -n)));
                } finally {
                    vqa.model().layers().forEach(l -> l.mlp().down().setOutputTap(null));
                }
                TokenModality[] mod = p.modality();
                for (int l = 0; l < layers; l++) {
                    float[] g = probes[l].getGradient().squeeze(0).abs().mean(new int[] {-1}).toFloatArray();
                    for (int t = 0; t < g.length; t++) {
                        if (mod[t] == TokenModality.VISION) {
                            visionSum[l] += g[t];
                            visionCount[l]++;
                        } else if (mod[t] == TokenModality.ANSWER) {
                            answerSum[l] += g[t];
                            answerCount[l]++;
                        }
                    }
                }
            }
            double[] r = new double[layers];
            for (int l = 0; l < layers; l++) {
                r[l] = (visionSum[l] / visionCount[l]) / (answerSum[l] / answerCount[l]);
            }
            double[] sorted = r.clone();
            Arrays.sort(sorted);
            double median = layers % 2 == 1 ? sorted[layers / 2] : (sorted[layers / 2 - 1] + sorted[layers / 2]) / 2;

            // The search of layer 1's gate/up group with MBQ's weights: answer tokens 1, vision tokens r, the rest 0.
            int target = 1;
            double floored = Math.max(r[target], median);
            DecoderLayer layer = vqa.model().layers().get(target);
            List<NDArray> inputs = inputsOf(layer.mlp().gate(), m);
            NDArray x = NDArrays.concat(new NDList(inputs), 0);
            float[] mu = x.abs().mean(new int[] {0}).toFloatArray();
            double[] weight = new double[(int) x.getShape().get(0)];
            int row = 0;
            for (VqaSample s : samples) {
                for (TokenModality t : prompt(s).modality()) {
                    weight[row++] = t == TokenModality.ANSWER ? 1 : t == TokenModality.VISION ? floored : 0;
                }
            }
            NDArray wg = layer.mlp().gate().weight();
            NDArray wu = layer.mlp().up().weight();
            NDArray wd = layer.mlp().down().weight();
            NDArray ref = mlp(x, wg, wu, wd);
            double[] loss = new double[AlphaGrid.SIZE];
            for (int a = 0; a < loss.length; a++) {
                NDArray sv = m.create(scales(mu, a / 20.0));
                NDArray out = mlp(x, asymmetric(wg.mul(sv), 3, 64).div(sv), asymmetric(wu.mul(sv), 3, 64).div(sv), wd);
                float[] e = ref.sub(out).abs().mean(new int[] {-1}).toFloatArray();
                double num = 0;
                double den = 0;
                for (int t = 0; t < e.length; t++) {
                    num += weight[t] * e[t];
                    den += weight[t];
                }
                loss[a] = num / den;
            }
            int best = firstArgmin(loss);
            QuantConfig.GroupChoice chosen = engine.configs().get(Method.MBQ).groups()
                    .get(new GroupKey(target, EqualizationGroup.GATE_UP));
            assertEquals(best / 20.0, chosen.alpha(), 1e-12, "MBQ alpha; direct losses " + Arrays.toString(loss));
            assertEquals(loss[best], chosen.loss(), 1e-4 * loss[best]);
            assertEquals(r[target] != floored, floored > r[target], "floor applied where r is below the median");
            // The engine's plan records r before the floor: the same ratio.
            double engineR = engine.plan().gradientRatios().get(new GroupKey(target, EqualizationGroup.GATE_UP));
            assertEquals(r[target], engineR, 1e-4 * r[target], "gradient ratio of layer " + target);
        }
    }

    @Test
    void qigTokenWeightsMatchOneAutogradCallPerInterpolationPoint() {
        // The method's rule (32 points, both ends) and the default (16 midpoints).
        checkQig(IgRule.ENDPOINTS, 32);
        checkQig(IgRule.MIDPOINT, 16);
    }

    private static void checkQig(IgRule rule, int steps) {
        CalibrationSettings settings = CalibrationSettings.builder(QuantScheme.W3A16).batchSize(3).igRule(rule)
                .igSteps(steps).build();
        PartialSumsEngine engine = new PartialSumsEngine(vqa, settings, "t");
        CalibrationPlan plan = CalibrationPlan.from(1, BatchCalibrator.sum(engine, samples, CalibrationPlan.empty(),
                EnumSet.of(Method.QIG), manager, "s", (p, n) -> { }).statistics(), null);
        List<PartialSumsEngine.SampleResult> results = engine.attribute(samples, plan, EnumSet.of(Method.QIG), manager);
        DecoderLayer layer = vqa.model().layers().get(0);
        try (NDManager m = manager.newSubManager()) {
            NDArray wg = layer.mlp().gate().weight();
            NDArray wu = layer.mlp().up().weight();
            NDArray wd = layer.mlp().down().weight();
            // Every linear of the inspected module quantized, no scales.
            NDArray qg = asymmetric(wg, 3, 64);
            NDArray qu = asymmetric(wu, 3, 64);
            NDArray qd = asymmetric(wd, 3, 128);
            // The whole MLP for gate/up; down alone (the engine takes one gradient there: the target is
            // homogeneous along the path from 0, which this loop over the 32 points does not assume).
            checkQigWeights(results, new GroupKey(0, EqualizationGroup.GATE_UP), inputsOf(layer.mlp().gate(), m),
                    z -> mlp(z, wg, wu, wd).sub(mlp(z, qg, qu, qd)), rule, steps, m);
            checkQigWeights(results, new GroupKey(0, EqualizationGroup.DOWN), inputsOf(layer.mlp().down(), m),
                    z -> z.matMul(wd.transpose()).sub(z.matMul(qd.transpose())), rule, steps, m);
        }
    }

    private static void checkQigWeights(List<PartialSumsEngine.SampleResult> results, GroupKey key, List<NDArray> inputs,
                                        java.util.function.Function<NDArray, NDArray> difference, IgRule rule, int steps,
                                        NDManager m) {
        for (int i = 0; i < samples.size(); i++) {
            NDArray x = inputs.get(i);
            NDArray gradSum = m.zeros(x.getShape());
            for (int k = 0; k < steps; k++) {
                // Baseline 0: z_k = a_k x with a_k = k / (n - 1) (both ends) or (k + 1/2) / n, one backward per point.
                float a = rule == IgRule.ENDPOINTS ? k / (float) (steps - 1) : (k + 0.5f) / steps;
                NDArray z = x.mul(a);
                z.setRequiresGradient(true);
                try (GradientRecording gc = GradientRecording.open()) {
                    gc.backward(difference.apply(z).abs().mean(new int[] {-1}).sum());
                }
                gradSum = gradSum.add(z.getGradient());
            }
            float[] u = x.mul(gradSum.div(steps)).abs().mean(new int[] {-1}).toFloatArray();
            float[] expected = clipped(u);
            float[] got = results.get(i).lambda().get(key);
            assertEquals(expected.length, got.length, key + " tokens of sample " + i);
            for (int t = 0; t < got.length; t++) {
                assertEquals(expected[t], got[t], 2e-4 * Math.max(1e-3, expected[t]) + 2e-6,
                        rule + " " + steps + " " + key + " sample " + i + " token " + t + " of " + Arrays.toString(expected));
            }
        }
    }

    /** Normalize to sum 1, clip into the IQR fences (numpy's linear percentiles), normalize again. */
    private static float[] clipped(float[] u) {
        double sum = 0;
        for (float v : u) {
            sum += v;
        }
        double[] w = new double[u.length];
        for (int i = 0; i < u.length; i++) {
            w[i] = u[i] / sum;
        }
        double[] sorted = w.clone();
        Arrays.sort(sorted);
        double q1 = percentile(sorted, 0.25);
        double q3 = percentile(sorted, 0.75);
        double lo = q1 - 1.5 * (q3 - q1);
        double hi = q3 + 1.5 * (q3 - q1);
        double total = 0;
        for (int i = 0; i < w.length; i++) {
            w[i] = Math.min(Math.max(w[i], lo), hi);
            total += w[i];
        }
        float[] out = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            out[i] = (float) (w[i] / total);
        }
        return out;
    }

    private static double percentile(double[] sorted, double q) {
        double pos = q * (sorted.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(lo + 1, sorted.length - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    @Test
    void awqAtW4A8SearchesOnTheDistortedInputsWithPerTokenActivationQuantization() {
        BatchCalibrator.Result engine = new BatchCalibrator(vqa, CalibrationSettings.defaults(QuantScheme.W4A8)
                .withBatchSize(4), "t").calibrate(EnumSet.of(Method.AWQ), samples, manager, (p, n) -> { });
        int target = 1;
        DecoderLayer layer = vqa.model().layers().get(target);
        try (NDManager m = manager.newSubManager()) {
            List<NDArray> fp = inputsOf(layer.mlp().gate(), m);
            List<NDArray> distorted;
            try (AppliedQuantization rtn = QuantConfigApplier.apply(vqa.model(), QuantConfig.rtn("t", QuantScheme.W4A8, Map.of()))) {
                distorted = inputsOf(layer.mlp().gate(), m);
            }
            NDArray x = NDArrays.concat(new NDList(fp), 0);
            NDArray xq = NDArrays.concat(new NDList(distorted), 0);
            assertTrue(xq.sub(x).abs().max().getFloat() > 0, "the distorted stream differs from full precision");
            float[] mu = xq.abs().mean(new int[] {0}).toFloatArray();
            NDArray wg = layer.mlp().gate().weight();
            NDArray wu = layer.mlp().up().weight();
            NDArray wd = layer.mlp().down().weight();
            NDArray ref = mlp(x, wg, wu, wd);
            double[] loss = new double[AlphaGrid.SIZE];
            for (int a = 0; a < loss.length; a++) {
                NDArray sv = m.create(scales(mu, a / 20.0));
                // W4 per-row symmetric on W * s; the input x_q / s quantized to 8 bits per token.
                NDArray input = symmetric(xq.div(sv), 8);
                NDArray out = mlp(input, symmetric(wg.mul(sv), 4), symmetric(wu.mul(sv), 4), wd);
                loss[a] = ref.sub(out).abs().mean(new int[] {-1}).mean().getFloat();
            }
            int best = firstArgmin(loss);
            QuantConfig.GroupChoice chosen = engine.configs().get(Method.AWQ).groups()
                    .get(new GroupKey(target, EqualizationGroup.GATE_UP));
            assertEquals(best / 20.0, chosen.alpha(), 1e-12, "W4A8 AWQ alpha; direct losses " + Arrays.toString(loss));
            assertEquals(loss[best], chosen.loss(), 1e-4 * loss[best]);
            assertEquals(loss[0], chosen.lossAtZero(), 1e-4 * loss[0]);
        }
    }
}
