package dev.qig.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The backward pass must not read memory the JVM has freed. DJL's scalar overloads ({@code x.mul(2f)})
 * build the scalar on a Java direct buffer and close it at once, while PyTorch's autograd keeps the
 * tensor for the backward pass; once the garbage collector has run, the backward pass multiplies by
 * whatever the freed memory holds. This test runs the collector between forward and backward, refills
 * freed small blocks with a poison value, and requires the gradients to be bit-identical to a clean run.
 */
class GradientLifetimeTest {

    @Test
    void gradientsDoNotDependOnGarbageCollectionBetweenForwardAndBackward() throws Exception {
        LvlmConfig c = TinyModel.config();
        try (NDManager manager = NDManager.newBaseManager()) {
            VisionLanguageModel model = VisionLanguageModel.create(c, manager, 5);
            Map<String, float[]> clean = gradients(model, manager, false);
            Map<String, float[]> collected = gradients(model, manager, true);
            for (String name : clean.keySet()) {
                assertArrayEquals(clean.get(name), collected.get(name), 0f, name);
            }
        }
    }

    /**
     * Runs the garbage collector until it has processed a sentinel's phantom reference (so the test
     * cannot pass because no collection ran), which is when the direct buffers DJL dropped are freed
     * too: their cleaners are phantom references of the same reference processing.
     */
    private static void collectGarbage() throws InterruptedException {
        java.lang.ref.ReferenceQueue<Object> queue = new java.lang.ref.ReferenceQueue<>();
        java.lang.ref.PhantomReference<Object> sentinel = new java.lang.ref.PhantomReference<>(new Object(), queue);
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (queue.remove(100) == null) {
            org.junit.jupiter.api.Assertions.assertTrue(System.nanoTime() < deadline, "the garbage collector did not run");
            System.gc();
        }
        java.lang.ref.Reference.reachabilityFence(sentinel);
    }

    private static Map<String, float[]> gradients(VisionLanguageModel model, NDManager manager, boolean collectGarbage)
            throws InterruptedException {
        LvlmConfig c = model.config();
        Map<String, float[]> out = new LinkedHashMap<>();
        List<ByteBuffer> poison = new ArrayList<>();
        try (NDManager s = manager.newSubManager()) {
            int[] ids = TinyModel.ids(c, 4, 2);
            NDArray tokens = s.create(ids, new Shape(1, ids.length));
            NDArray pixels = TinyModel.pixels(s, c, 1);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray logits = model.forward(new ParameterStore(s, false), new NDList(pixels, tokens), true).head();
                NDArray loss = logits.logSoftmax(-1).get("..., 5").sum();
                if (collectGarbage) {
                    collectGarbage();
                    for (int i = 0; i < 10_000; i++) {
                        poison.add(ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder()).putFloat(0, 1e30f));
                    }
                }
                gc.backward(loss);
            }
            model.weights().parameters().forEach((name, p) -> {
                try (NDArray g = p.getArray().getGradient()) {
                    out.put(name, g.toFloatArray());
                    g.set(new ai.djl.ndarray.index.NDIndex("..."), 0f);
                }
            });
        }
        poison.clear();
        return out;
    }
}
