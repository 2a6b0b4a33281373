package dev.qig.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class VisionLanguageModelTest {

    private static NDManager manager;
    private static LvlmConfig config;
    private static VisionLanguageModel model;

    @BeforeAll
    static void setUp() {
        manager = NDManager.newBaseManager();
        config = TinyModel.config();
        model = VisionLanguageModel.create(config, manager, 3);
    }

    @AfterAll
    static void tearDown() {
        manager.close();
    }

    private static NDArray logits(NDManager m, NDArray pixels, int[] ids, int rows) {
        NDArray tokens = m.create(repeat(ids, rows), new Shape(rows, ids.length));
        return model.forward(new ParameterStore(m, false), new NDList(pixels, tokens), false).head();
    }

    private static int[] repeat(int[] ids, int rows) {
        int[] out = new int[ids.length * rows];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(ids, 0, out, r * ids.length, ids.length);
        }
        return out;
    }

    @Test
    void everyBlockHasTheDocumentedShape() {
        try (NDManager m = manager.newSubManager()) {
            ParameterStore ps = new ParameterStore(m, false);
            int b = 2;
            int[] ids = TinyModel.ids(config, 5, 1);
            NDArray pixels = TinyModel.pixels(m, config, b);
            NDArray tokens = m.create(repeat(ids, b), new Shape(b, ids.length));
            int t = ids.length;

            NDArray emb = model.inputEmbeddings(ps, pixels, tokens, false);
            assertEquals(new Shape(b, t, config.hidden()), emb.getShape());
            DecoderLayer layer = model.layers().get(0);
            assertEquals(emb.getShape(), layer.forward1(ps, emb, false).getShape());
            assertEquals(emb.getShape(), layer.attention().forward1(ps, emb, false).getShape());
            assertEquals(emb.getShape(), layer.mlp().forward1(ps, emb, false).getShape());
            assertEquals(new Shape(b, t, config.kvHeads() * config.headDim()), layer.attention().v().forward1(ps, emb, false).getShape());
            assertEquals(new Shape(b, t, config.intermediate()), layer.mlp().gate().forward1(ps, emb, false).getShape());
            assertEquals(new Shape(b, t, config.vocabSize()), logits(m, pixels, ids, b).getShape());
            assertEquals(7 * config.layers(), model.decoderLinears().size());
        }
    }

    @Test
    void vAndOHaveDifferentShapesUnderGroupedQueryAttention() {
        DecoderAttention attn = model.layers().get(0).attention();
        assertEquals(new Shape(config.kvHeads() * config.headDim(), config.hidden()), attn.v().weight().getShape());
        assertEquals(new Shape(config.hidden(), config.heads() * config.headDim()), attn.o().weight().getShape());
        assertTrue(!attn.v().weight().getShape().equals(attn.o().weight().getShape()));
    }

    @Test
    void laterTokensNeverChangeEarlierOutputs() {
        try (NDManager m = manager.newSubManager()) {
            NDArray pixels = TinyModel.pixels(m, config, 1);
            int[] ids = TinyModel.ids(config, 6, 2);
            int[] changed = ids.clone();
            int cut = ids.length - 3;
            for (int i = cut; i < ids.length; i++) {
                changed[i] = 4 + (ids[i] - 4 + 7) % (config.vocabSize() - 4);
            }
            NDArray a = logits(m, pixels, ids, 1);
            NDArray b = logits(m, pixels, changed, 1);
            NDIndex before = new NDIndex(":, :{}", cut);
            assertArrayEquals(a.get(before).toFloatArray(), b.get(before).toFloatArray(), 0f,
                    "positions before the change must be bit-identical");
            NDIndex after = new NDIndex(":, {}:", cut);
            float diff = a.get(after).sub(b.get(after)).abs().max().getFloat();
            assertTrue(diff > 1e-4f, "the changed positions themselves must change (diff " + diff + ")");
        }
    }

    @Test
    void batchRowsAreIndependent() {
        try (NDManager m = manager.newSubManager()) {
            NDArray pixels = TinyModel.pixels(m, config, 3);
            int[] ids = TinyModel.ids(config, 4, 5);
            NDArray batched = logits(m, pixels, ids, 3);
            NDArray single = logits(m, pixels.get(new NDIndex("1:2")), ids, 1);
            float diff = batched.get(new NDIndex("1:2")).sub(single).abs().max().getFloat();
            assertTrue(diff < 1e-5f, "row 1 alone vs in a batch differs by " + diff);
        }
    }

    @Test
    void imageTokensMustFormOneRunOfTheRightLength() {
        try (NDManager m = manager.newSubManager()) {
            NDArray pixels = TinyModel.pixels(m, config, 1);
            int[] ids = TinyModel.ids(config, 3, 4);
            ids[5] = 7; // break the run
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> logits(m, pixels, ids, 1));
            assertTrue(e.getMessage().contains("image tokens"), e.getMessage());
        }
    }

    @Test
    void parametersAreNamedLikeHuggingFaceQwen2AndLlava() {
        var names = model.weights().parameters().keySet();
        assertTrue(names.contains("model.layers.0.self_attn.q_proj.weight"));
        assertTrue(names.contains("model.layers.0.self_attn.q_proj.bias"));
        assertTrue(names.contains("model.layers.1.mlp.down_proj.weight"));
        assertTrue(names.contains("model.layers.1.post_attention_layernorm.weight"));
        assertTrue(names.contains("model.embed_tokens.weight"));
        assertTrue(names.contains("model.norm.weight"));
        assertTrue(names.contains("lm_head.weight"));
        assertTrue(names.contains("multi_modal_projector.linear_1.weight"));
        assertTrue(names.contains("vision_tower.vision_model.embeddings.patch_embedding.weight"));
        assertTrue(names.contains("vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight"));
        long count = model.weights().parameters().values().stream().mapToLong(p -> p.getShape().size()).sum();
        assertEquals(count, model.parameterCount());
    }

    @Test
    void sameSeedSameWeightsOtherSeedOtherWeights() {
        try (NDManager m = manager.newSubManager()) {
            VisionLanguageModel again = VisionLanguageModel.create(config, m, 3);
            VisionLanguageModel other = VisionLanguageModel.create(config, m, 4);
            String name = "model.layers.1.mlp.up_proj.weight";
            float[] w = model.weights().parameters().get(name).getArray().toFloatArray();
            assertArrayEquals(w, again.weights().parameters().get(name).getArray().toFloatArray(), 0f);
            assertTrue(!java.util.Arrays.equals(w, other.weights().parameters().get(name).getArray().toFloatArray()));
        }
    }
}
