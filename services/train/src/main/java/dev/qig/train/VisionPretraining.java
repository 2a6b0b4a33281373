package dev.qig.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import dev.qig.data.ColorName;
import dev.qig.data.Domain;
import dev.qig.data.GroundedSample;
import dev.qig.data.SceneObject;
import dev.qig.data.ShapeKind;
import dev.qig.data.SizeClass;
import dev.qig.data.SyntheticWorld;
import dev.qig.core.model.GradientRecording;
import dev.qig.core.model.LvlmConfig;
import dev.qig.core.model.SeededInitializer;
import dev.qig.core.model.VisionLanguageModel;
import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Stage 1 of training: the vision tower learns to see before the decoder learns to answer, as real
 * VLMs start from a pretrained vision encoder. A temporary linear head on every patch token
 * predicts the color, shape and size of the object in that patch's cell (or "none"); the head is
 * thrown away afterwards. Without this stage the model sits for thousands of steps at the answer
 * prior, since the sparse answer loss alone teaches the vision tower slowly.
 *
 * <p>With {@code keepPositions} the head also predicts each patch's row and column. Without it the
 * tower's features lose the patch position (a linear probe on the shipped tower finds row and column
 * 16% of the time), and a decoder reading a frozen tower cannot answer relation questions, since
 * rotary positions never enter the attention values.
 */
public final class VisionPretraining {

    private static final int COLORS = ColorName.values().length + 1;
    private static final int SHAPES = ShapeKind.values().length + 1;
    private static final int SIZES = SizeClass.values().length + 1;

    private final int steps;
    private final int batchSize;
    private final float learningRate;
    private final long seed;
    private final PrintStream out;
    private final boolean keepPositions;

    public VisionPretraining(int steps, int batchSize, float learningRate, long seed, boolean keepPositions,
                             PrintStream out) {
        this.steps = steps;
        this.batchSize = batchSize;
        this.learningRate = learningRate;
        this.seed = seed;
        this.out = out;
        this.keepPositions = keepPositions;
    }

    /** Trains the vision tower in place; returns the final per-patch attribute accuracy. */
    public double run(VisionLanguageModel model, NDManager manager) {
        LvlmConfig c = model.config();
        int patches = c.visionTokens();
        int grid = c.imageSize() / c.patchSize();
        Map<String, Parameter> params = new LinkedHashMap<>();
        model.weights().parameters().forEach((k, p) -> {
            if (k.startsWith("vision_tower.")) {
                params.put(k, p);
            }
        });
        NDArray head = SeededInitializer.normal(manager, seed ^ 0x4EAD, new Shape(COLORS + SHAPES + SIZES, c.visionHidden()),
                0.02);
        NDArray headBias = manager.zeros(new Shape(COLORS + SHAPES + SIZES));
        head.setRequiresGradient(true);
        headBias.setRequiresGradient(true);
        NDArray positionHead = keepPositions
                ? SeededInitializer.normal(manager, seed ^ 0x9051, new Shape(2L * grid, c.visionHidden()), 0.02)
                : null;
        NDArray positionBias = keepPositions ? manager.zeros(new Shape(2L * grid)) : null;
        AdamW adam = new AdamW(0.9f, 0.999f, 1e-8f, 0f);
        Map<String, NDArray> trained = new LinkedHashMap<>();
        params.forEach((k, p) -> trained.put(k, p.getArray()));
        trained.put("vision_head.weight", head);
        trained.put("vision_head.bias", headBias);
        int[] rows = new int[batchSize * patches];
        int[] columns = new int[batchSize * patches];
        if (keepPositions) {
            positionHead.setRequiresGradient(true);
            positionBias.setRequiresGradient(true);
            trained.put("position_head.weight", positionHead);
            trained.put("position_head.bias", positionBias);
            for (int i = 0; i < rows.length; i++) {
                rows[i] = (i % patches) / grid;
                columns[i] = (i % patches) % grid;
            }
        }
        SyntheticWorld world = new SyntheticWorld();
        SplittableRandom rng = new SplittableRandom(seed ^ 0x5EED);
        Domain[] domains = Domain.values();
        double accuracy = Double.NaN;
        long start = System.nanoTime();
        for (int step = 1; step <= steps; step++) {
            float[] pixels = new float[batchSize * 3 * c.imageSize() * c.imageSize()];
            int[][] labels = new int[3][batchSize * patches];
            for (int i = 0; i < batchSize; i++) {
                GroundedSample g = world.sampleGrounded(domains[rng.nextInt(domains.length)], rng, "vision-" + step + "-" + i);
                float[] image = g.sample().image();
                for (int k = 0; k < image.length; k++) {
                    pixels[i * image.length + k] = image[k] * 2f - 1f;
                }
                for (SceneObject o : g.scene().objects()) {
                    int p = i * patches + o.row() * grid + o.col();
                    labels[0][p] = o.color().ordinal() + 1;
                    labels[1][p] = o.shape().ordinal() + 1;
                    labels[2][p] = o.size().ordinal() + 1;
                }
            }
            try (NDManager s = manager.newSubManager()) {
                ParameterStore ps = new ParameterStore(s, false);
                NDArray x = s.create(pixels, new Shape(batchSize, 3, c.imageSize(), c.imageSize()));
                float loss;
                NDArray logits;
                NDArray positionLogits = null;
                try (GradientRecording gc = GradientRecording.open()) {
                    NDArray features = model.visionTower().forward(ps, new NDList(x), true).head();
                    logits = features.matMul(head.transpose()).add(headBias);
                    NDArray l = crossEntropy(logits, 0, COLORS, labels[0], s)
                            .add(crossEntropy(logits, COLORS, SHAPES, labels[1], s))
                            .add(crossEntropy(logits, COLORS + SHAPES, SIZES, labels[2], s));
                    if (keepPositions) {
                        positionLogits = features.matMul(positionHead.transpose()).add(positionBias);
                        l = l.add(crossEntropy(positionLogits, 0, grid, rows, s))
                                .add(crossEntropy(positionLogits, grid, grid, columns, s));
                    }
                    gc.backward(l);
                    loss = l.getFloat();
                }
                if (Float.isFinite(loss)) {
                    adam.stepArrays(trained, learningRate * Math.min(1f, step / 50f), 1f);
                } else {
                    trained.values().forEach(w -> {
                        try (NDArray g = w.getGradient()) {
                            g.set(new NDIndex("..."), 0f);
                        }
                    });
                }
                if (step % 50 == 0 || step == steps) {
                    accuracy = accuracy(logits, labels);
                    String position = positionLogits == null ? "" : String.format(Locale.ROOT,
                            "  position accuracy %.1f%%", 100 * positionAccuracy(positionLogits, grid, rows, columns));
                    out.printf(Locale.ROOT, "vision step %4d/%d  loss %.4f  patch attribute accuracy %.1f%%%s  %.2f s/step%n",
                            step, steps, loss, 100 * accuracy, position, (System.nanoTime() - start) / 1e9 / step);
                }
            }
        }
        head.close();
        headBias.close();
        if (keepPositions) {
            positionHead.close();
            positionBias.close();
        }
        return accuracy;
    }

    private static NDArray crossEntropy(NDArray logits, int from, int classes, int[] labels, NDManager s) {
        NDArray part = logits.get(new NDIndex("..., {}:{}", from, from + classes)).logSoftmax(-1);
        NDArray target = s.create(labels, new Shape(logits.getShape().get(0), logits.getShape().get(1), 1))
                .toType(DataType.INT64, false);
        return part.gather(target, 2).mean().neg();
    }

    /** Fraction of patches whose row and column are both predicted right. */
    private static double positionAccuracy(NDArray logits, int grid, int[] rows, int[] columns) {
        int[] row = logits.get(new NDIndex("..., 0:{}", grid)).argMax(-1).toType(DataType.INT32, false).toIntArray();
        int[] col = logits.get(new NDIndex("..., {}:", grid)).argMax(-1).toType(DataType.INT32, false).toIntArray();
        int right = 0;
        for (int p = 0; p < row.length; p++) {
            right += row[p] == rows[p] && col[p] == columns[p] ? 1 : 0;
        }
        return (double) right / row.length;
    }

    /** Fraction of patches whose color, shape and size are all predicted right. */
    private static double accuracy(NDArray logits, int[][] labels) {
        int[] color = logits.get(new NDIndex("..., 0:{}", COLORS)).argMax(-1).toType(DataType.INT32, false).toIntArray();
        int[] shape = logits.get(new NDIndex("..., {}:{}", COLORS, COLORS + SHAPES)).argMax(-1).toType(DataType.INT32, false).toIntArray();
        int[] size = logits.get(new NDIndex("..., {}:", COLORS + SHAPES)).argMax(-1).toType(DataType.INT32, false).toIntArray();
        int right = 0;
        for (int p = 0; p < color.length; p++) {
            right += color[p] == labels[0][p] && shape[p] == labels[1][p] && size[p] == labels[2][p] ? 1 : 0;
        }
        return (double) right / color.length;
    }
}
