package dev.qig.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.qig.io.SafetensorsReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {

    @TempDir
    Path dir;

    private static List<String> vocab(int n) {
        List<String> words = new ArrayList<>(List.of("<pad>", "<bos>", "<eos>", "<image>"));
        for (int i = words.size(); i < n; i++) {
            words.add("w" + i);
        }
        return words;
    }

    @Test
    void safetensorsExportImportIsBitExact() throws IOException {
        LvlmConfig c = TinyModel.config();
        try (NDManager m = NDManager.newBaseManager()) {
            VisionLanguageModel original = VisionLanguageModel.create(c, m, 21);
            Checkpoint.save(original, vocab(c.vocabSize()), Map.of("note", "test"), dir);
            Checkpoint.Loaded loaded = Checkpoint.load(dir, m);

            assertEquals(c, loaded.model().config());
            assertEquals("test", loaded.metadata().get("note"));
            assertEquals(vocab(c.vocabSize()), loaded.vocabulary());
            for (var e : original.weights().parameters().entrySet()) {
                float[] a = e.getValue().getArray().toFloatArray();
                float[] b = loaded.model().weights().parameters().get(e.getKey()).getArray().toFloatArray();
                assertEquals(a.length, b.length);
                for (int i = 0; i < a.length; i++) {
                    assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(b[i]), e.getKey() + "[" + i + "]");
                }
            }
            int[] ids = TinyModel.ids(c, 4, 8);
            NDArray pixels = TinyModel.pixels(m, c, 1);
            NDArray tokens = m.create(ids, new Shape(1, ids.length));
            float[] la = original.forward(new ParameterStore(m, false), new NDList(pixels, tokens), false).head().toFloatArray();
            float[] lb = loaded.model().forward(new ParameterStore(m, false), new NDList(pixels, tokens), false).head().toFloatArray();
            assertArrayEquals(la, lb, 0f);
        }
    }

    @Test
    void theModelIdNamesTheContentNotTheLocation() throws IOException {
        LvlmConfig c = TinyModel.config();
        try (NDManager m = NDManager.newBaseManager()) {
            VisionLanguageModel model = VisionLanguageModel.create(c, m, 21);
            Path a = dir.resolve("a");
            Path b = dir.resolve("elsewhere").resolve("b");
            Checkpoint.save(model, vocab(c.vocabSize()), Map.of(), a);
            Checkpoint.save(model, vocab(c.vocabSize()), Map.of(), b);
            String id = Checkpoint.modelId(a);
            assertTrue(id.matches("sha256-[0-9a-f]{16}"), id);
            assertEquals(id, Checkpoint.modelId(b.toString()), "same content elsewhere, same id");
            assertEquals(id, Checkpoint.load(b, m).modelId());

            // One weight changed by one ulp: another model.
            NDArray w = model.weights().parameters().values().iterator().next().getArray();
            float[] v = w.toFloatArray();
            v[0] = Math.nextUp(v[0]);
            w.set(new ai.djl.ndarray.index.NDIndex("..."), m.create(v, w.getShape()));
            Path changed = dir.resolve("changed");
            Checkpoint.save(model, vocab(c.vocabSize()), Map.of(), changed);
            assertTrue(!id.equals(Checkpoint.modelId(changed)), "a changed weight changes the id");

            // The vocabulary is part of the model too.
            List<String> words = vocab(c.vocabSize());
            words.set(words.size() - 1, "other");
            Path renamed = dir.resolve("renamed");
            Checkpoint.save(VisionLanguageModel.create(c, m, 21), words, Map.of(), renamed);
            assertTrue(!id.equals(Checkpoint.modelId(renamed)), "a changed vocabulary changes the id");
            assertThrows(IOException.class, () -> Checkpoint.modelId(dir.resolve("nothing")));

            // The metadata beside the weights (provenance, notes) is not the model: same id.
            Path annotated = dir.resolve("annotated");
            Checkpoint.save(VisionLanguageModel.create(c, m, 21), vocab(c.vocabSize()), Map.of("init", "sha256-0000000000000000",
                    "note", "retitled"), annotated);
            assertEquals(id, Checkpoint.modelId(annotated), "metadata does not change the model id");
        }
    }

    @Test
    void aCheckpointWrittenBeforeTheAddedWeightsLoadsThemAtTheirNeutralValue() throws IOException {
        LvlmConfig c = TinyModel.config();
        try (NDManager m = NDManager.newBaseManager()) {
            VisionLanguageModel original = VisionLanguageModel.create(c, m, 21);
            Checkpoint.save(original, vocab(c.vocabSize()), Map.of(), dir);
            Path weights = dir.resolve(Checkpoint.WEIGHTS);
            List<dev.qig.io.TensorData> older = new ArrayList<>();
            Map<String, String> metadata;
            try (SafetensorsReader r = SafetensorsReader.open(weights)) {
                metadata = r.metadata();
                for (String name : r.names()) {
                    if (!VisionLanguageModel.ADDED_WEIGHTS.contains(name)) {
                        older.add(r.tensor(name));
                    }
                }
            }
            dev.qig.io.SafetensorsWriter.write(weights, metadata, older);
            VisionLanguageModel loaded = Checkpoint.load(dir, m).model();

            int[] ids = TinyModel.ids(c, 4, 8);
            NDArray pixels = TinyModel.pixels(m, c, 1);
            NDArray tokens = m.create(ids, new Shape(1, ids.length));
            float[] la = original.forward(new ParameterStore(m, false), new NDList(pixels, tokens), false).head().toFloatArray();
            float[] lb = loaded.forward(new ParameterStore(m, false), new NDList(pixels, tokens), false).head().toFloatArray();
            assertArrayEquals(la, lb, 0f);
            // The embedding is live: moving one patch changes the logits.
            loaded.weights().parameters().get(VisionLanguageModel.PATCH_POSITION_EMBEDDING).getArray()
                    .set(new ai.djl.ndarray.index.NDIndex("0"), 1f);
            float[] lc = loaded.forward(new ParameterStore(m, false), new NDList(pixels, tokens), false).head().toFloatArray();
            assertTrue(!java.util.Arrays.equals(la, lc));
        }
    }

    @Test
    void decoderTensorsUseTheQwen2NamesOtherToolsExpect() throws IOException {
        LvlmConfig c = TinyModel.config();
        try (NDManager m = NDManager.newBaseManager()) {
            Checkpoint.save(VisionLanguageModel.create(c, m, 1), vocab(c.vocabSize()), Map.of(), dir);
        }
        try (SafetensorsReader r = SafetensorsReader.open(dir.resolve(Checkpoint.WEIGHTS))) {
            assertArrayEquals(new long[] {c.kvHeads() * c.headDim(), c.hidden()}, r.shape("model.layers.0.self_attn.k_proj.weight"));
            assertArrayEquals(new long[] {c.intermediate(), c.hidden()}, r.shape("model.layers.1.mlp.gate_proj.weight"));
            assertArrayEquals(new long[] {c.vocabSize(), c.hidden()}, r.shape("model.embed_tokens.weight"));
        }
        String json = Files.readString(dir.resolve(Checkpoint.CONFIG));
        assertTrue(json.contains("\"num_key_value_heads\" : " + c.kvHeads()), json);
    }

    @Test
    void aCheckpointThatDoesNotMatchItsConfigIsRefusedWithTheNames() throws IOException {
        LvlmConfig c = TinyModel.config();
        try (NDManager m = NDManager.newBaseManager()) {
            Checkpoint.save(VisionLanguageModel.create(c, m, 1), vocab(c.vocabSize()), Map.of(), dir);
            LvlmConfig deeper = c.withDecoderLayers(c.layers() + 1);
            Files.writeString(dir.resolve(Checkpoint.CONFIG), deeper.toJson());
            IOException e = assertThrows(IOException.class, () -> Checkpoint.load(dir, m));
            assertTrue(e.getMessage().contains("model.layers.2."), e.getMessage());
            assertThrows(IOException.class, () -> Checkpoint.load(dir.resolve("nowhere"), m));
        }
    }
}
