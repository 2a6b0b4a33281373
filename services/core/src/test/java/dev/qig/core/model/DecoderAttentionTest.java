package dev.qig.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import org.junit.jupiter.api.Test;

/**
 * Grouped-query attention against a plain-Java reference: full multi-head attention in which every
 * key/value head is repeated for its group of query heads (Hugging Face's repeat_kv), with its own
 * rotate-half RoPE and causal softmax.
 */
class DecoderAttentionTest {

    @Test
    void groupedQueryAttentionEqualsFullAttentionWithRepeatedKeyValueHeads() {
        LvlmConfig c = TinyModel.config();
        try (NDManager m = NDManager.newBaseManager()) {
            VisionLanguageModel model = VisionLanguageModel.create(c, m, 9);
            DecoderAttention attn = model.layers().get(1).attention();
            ParameterStore ps = new ParameterStore(m, false);
            int t = 7;
            m.getEngine().setRandomSeed(5);
            NDArray x = m.randomNormal(new Shape(1, t, c.hidden()));

            float[] actual = attn.forward1(ps, x, false).toFloatArray();

            int h = c.heads();
            int kv = c.kvHeads();
            int hd = c.headDim();
            float[] q = attn.q().forward1(ps, x, false).toFloatArray();
            float[] k = attn.k().forward1(ps, x, false).toFloatArray();
            float[] v = attn.v().forward1(ps, x, false).toFloatArray();
            float[] context = new float[t * h * hd];
            for (int head = 0; head < h; head++) {
                int kvHead = head / (h / kv);
                for (int i = 0; i < t; i++) {
                    double[] qi = rope(q, i, head, h, hd, c.ropeTheta());
                    double[] scores = new double[i + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= i; j++) {
                        double[] kj = rope(k, j, kvHead, kv, hd, c.ropeTheta());
                        double dot = 0;
                        for (int d = 0; d < hd; d++) {
                            dot += qi[d] * kj[d];
                        }
                        scores[j] = dot / Math.sqrt(hd);
                        max = Math.max(max, scores[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= i; j++) {
                        scores[j] = Math.exp(scores[j] - max);
                        sum += scores[j];
                    }
                    for (int d = 0; d < hd; d++) {
                        double acc = 0;
                        for (int j = 0; j <= i; j++) {
                            acc += scores[j] / sum * v[(j * kv + kvHead) * hd + d];
                        }
                        context[(i * h + head) * hd + d] = (float) acc;
                    }
                }
            }
            float[] expected = attn.o().forward1(ps, m.create(context, new Shape(1, t, (long) h * hd)), false).toFloatArray();
            assertEquals(expected.length, actual.length);
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], actual[i], 1e-4, "output " + i);
            }
        }
    }

    /** Rotate-half RoPE of one head's vector at a position, in double precision. */
    private static double[] rope(float[] proj, int pos, int head, int heads, int hd, double theta) {
        double[] out = new double[hd];
        int half = hd / 2;
        int base = (pos * heads + head) * hd;
        for (int i = 0; i < half; i++) {
            double angle = pos * Math.pow(theta, -2.0 * i / hd);
            double a = proj[base + i];
            double b = proj[base + i + half];
            out[i] = a * Math.cos(angle) - b * Math.sin(angle);
            out[i + half] = b * Math.cos(angle) + a * Math.sin(angle);
        }
        return out;
    }

    @Test
    void ropeIsARotationThatDependsOnlyOnRelativePosition() {
        int hd = 16;
        RotaryEmbedding rope = new RotaryEmbedding(hd, 10_000.0, false);
        try (NDManager m = NDManager.newBaseManager()) {
            int t = 24;
            m.getEngine().setRandomSeed(3);
            NDArray qv = m.randomNormal(new Shape(1, hd));
            NDArray kv = m.randomNormal(new Shape(1, hd));
            NDArray[] cs = rope.tables(m, t);
            // The same vector at every position, rotated by its position.
            NDArray q = rope.apply(qv.broadcast(new Shape(t, hd)), cs[0], cs[1]);
            NDArray k = rope.apply(kv.broadcast(new Shape(t, hd)), cs[0], cs[1]);

            float norm = qv.norm().getFloat();
            float[] norms = q.norm(new int[] {1}).toFloatArray();
            for (int p = 0; p < t; p++) {
                assertEquals(norm, norms[p], 1e-4 * norm, "norm at position " + p);
            }
            float[] scores = q.matMul(k.transpose()).toFloatArray(); // (t, t)
            for (int offset : new int[] {0, 1, 3, 9}) {
                float reference = scores[offset * t]; // (m = offset, n = 0)
                for (int n = 1; n + offset < t; n++) {
                    assertEquals(reference, scores[(n + offset) * t + n], 1e-3,
                            "score(m=" + (n + offset) + ", n=" + n + ") must equal score(" + offset + ", 0)");
                }
            }
            // And it does depend on the offset: not a no-op.
            assertTrue(Math.abs(scores[0] - scores[5 * t]) > 1e-3);
        }
    }
}
