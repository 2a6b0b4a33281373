package dev.qig.train;

import ai.djl.ndarray.NDManager;
import dev.qig.data.Domain;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VqaSample;
import dev.qig.core.model.LvlmConfig;
import dev.qig.core.engine.AppliedQuantization;
import dev.qig.quant.QuantConfig;
import dev.qig.core.engine.QuantConfigApplier;
import dev.qig.quant.QuantScheme;
import dev.qig.core.vqa.AccuracyComparison;
import dev.qig.core.vqa.EvalReport;
import dev.qig.core.vqa.VqaEvaluator;
import dev.qig.core.vqa.VqaModel;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What a user needs to know about a trained checkpoint: its shape and size, how it was trained,
 * and its measured accuracy per domain and question type, in full precision and with plain W3
 * round-to-nearest weights (the gap calibration methods are there to close).
 */
public final class ModelCard {

    public static final String FILE = "MODEL_CARD.md";

    private final String markdown;

    private ModelCard(String markdown) {
        this.markdown = markdown;
    }

    /**
     * Evaluates the model and writes its card. {@code initFrom} describes the checkpoint this run
     * continued from (stage 1 is then skipped), or is null for a run from scratch.
     */
    public static ModelCard measure(VqaModel vqa, TrainConfig train, VqaTrainer.Result result, int visionSteps,
                                    double patchAccuracy, double visionSeconds, boolean visionPositions,
                                    String initFrom, NDManager manager,
                                    PrintStream progress) {
        SyntheticWorld world = new SyntheticWorld();
        List<VqaSample> samples = new ArrayList<>();
        for (Domain d : Domain.values()) {
            samples.addAll(world.evalSet(d));
        }
        VqaEvaluator evaluator = new VqaEvaluator(100);
        EvalReport fp = evaluator.evaluate("FP32", vqa, samples, manager, n -> { });
        progress.print(fp.toTable());
        EvalReport w3;
        try (AppliedQuantization rtn = QuantConfigApplier.apply(vqa.model(),
                QuantConfig.rtn("trained", QuantScheme.W3A16, java.util.Map.of()))) {
            w3 = evaluator.evaluate("W3-RTN", vqa, samples, manager, n -> { });
        }
        progress.print(w3.toTable());

        LvlmConfig c = vqa.model().config();
        StringBuilder md = new StringBuilder();
        md.append("# qig-vqa-small\n\n")
                .append("A LLaVA-style vision-language model trained by `qig train` on qig-stream's synthetic VQA world ")
                .append("(shapes, colors, sizes, positions; domains clean, cluttered, lowlight, qmix). ")
                .append("It is a test bed for post-training quantization, not a general model.\n\n")
                .append("## Shape\n\n")
                .append(String.format(Locale.ROOT, "- parameters: %,d (float32)%n", vqa.model().parameterCount()))
                .append(String.format(Locale.ROOT, "- vision: %dx%d images, %dx%d patches (%d tokens), width %d, %d pre-norm ViT blocks, %d heads, MLP %d%n",
                        c.imageSize(), c.imageSize(), c.patchSize(), c.patchSize(), c.visionTokens(), c.visionHidden(),
                        c.visionLayers(), c.visionHeads(), c.visionIntermediate()))
                .append(String.format(Locale.ROOT, "- projector: 2-layer GELU MLP %d -> %d%n", c.visionHidden(), c.hidden()))
                .append(String.format(Locale.ROOT, "- decoder (Qwen2-style): hidden %d, %d layers, %d query / %d key-value heads (GQA), SwiGLU MLP %d, RMSNorm, RoPE theta %.0f, vocabulary %d%n",
                        c.hidden(), c.layers(), c.heads(), c.kvHeads(), c.intermediate(), c.ropeTheta(), c.vocabSize()))
                .append("\n## Training\n\n")
                .append(initFrom != null
                        ? String.format(Locale.ROOT, "- continued from %s (stage 1 and earlier steps: see its model card)%n", initFrom)
                        : String.format(Locale.ROOT, "- stage 1, vision tower: %d steps of %d images, a temporary linear head on every patch predicts the color, shape and size in its cell%s (then discarded); final patch accuracy %.1f%%, %.1f min%n",
                                visionSteps, train.batchSize(), visionPositions ? ", and a second head its row and column" : "",
                                100 * patchAccuracy, visionSeconds / 60))
                .append(String.format(Locale.ROOT, "- stage 2, VQA: %s on the answer loss plus a grounding loss (weight %.1f): a temporary linear head on %s, at each vision token, predicts whether that patch holds an object the question is about (then discarded)%n",
                        train.freezeVisionTower() ? "projector and decoder, the vision tower frozen as stage 1 left it (as LLaVA keeps its encoder)"
                                : "the whole model",
                        train.groundingWeight(), train.groundingLayer() < 0 ? "the decoder's final hidden state"
                                : "the residual stream after decoder layer " + train.groundingLayer()))
                .append(train.attentionWeight() > 0
                        ? String.format(Locale.ROOT, "- attention loss (weight %.1f): query head %d of decoder layer %d, at the position that predicts the answer, is trained to put its attention on the patches the question is about%n",
                                train.attentionWeight(), train.attentionHead(), train.attentionLayer())
                        : "")
                .append(train.relationWeight() > 0
                        ? String.format(Locale.ROOT, "- relation losses (weight %.1f), on relation questions only, from more temporary linear heads: one on the residual stream after decoder layer %d says for each vision token whether it holds the subject, the reference or neither; one on %s, at the position that predicts the answer, gives the row and column of both objects and whether the subject is left of, right of, above and below the reference%n",
                                train.relationWeight(), train.relationLayer(), train.relationAnswerLayer() < 0
                                        ? "the final hidden state"
                                        : "the residual stream after decoder layer " + train.relationAnswerLayer())
                        : "")
                .append(String.format(Locale.ROOT, "- %d steps of %d fresh samples (all domains equally%s), Adam lr %.0e (warm-up %d, cosine), global-norm clip %.1f, seed %d%n",
                        train.steps(), train.batchSize(),
                        train.relationShare() > 0
                                ? String.format(Locale.ROOT, "; at least %.0f%% relation questions", 100 * train.relationShare())
                                : "",
                        train.learningRate(), train.warmupSteps(),
                        train.gradientClipNorm(), train.seed()))
                .append(String.format(Locale.ROOT, "- final training loss %.4f; training time %.1f min on %d cores (%s)%n",
                        result.finalLoss(), result.seconds() / 60, Runtime.getRuntime().availableProcessors(),
                        System.getProperty("os.arch")))
                .append("\n## Accuracy on the held-out sets (500 questions per domain, exact match)\n\n")
                .append(AccuracyComparison.markdown(List.of(fp, w3)))
                .append("\nFull precision, per question type (%):\n\n")
                .append(AccuracyComparison.perType(fp))
                .append("\nW3 g128 asymmetric round-to-nearest, per question type (%):\n\n")
                .append(AccuracyComparison.perType(w3))
                .append("\nReproduce: `qig eval --model <this directory>`.\n");
        return new ModelCard(md.toString());
    }

    public String markdown() {
        return markdown;
    }

    public void write(Path dir) throws IOException {
        Files.writeString(dir.resolve(FILE), markdown, StandardCharsets.UTF_8);
    }
}
