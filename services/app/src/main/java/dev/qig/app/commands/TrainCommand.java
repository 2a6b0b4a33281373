package dev.qig.app.commands;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import dev.qig.data.Vocabulary;
import dev.qig.core.model.Checkpoint;
import dev.qig.core.model.LvlmConfig;
import dev.qig.core.model.VisionLanguageModel;
import dev.qig.train.ModelCard;
import dev.qig.train.TrainConfig;
import dev.qig.train.VisionPretraining;
import dev.qig.train.VqaTrainer;
import dev.qig.core.vqa.VqaModel;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code qig train}: trains the test-bed model on the synthetic world and writes a checkpoint + model card. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train the test-bed VLM on the synthetic VQA world; writes config.json, model.safetensors, "
                + "vocab.txt and MODEL_CARD.md to --out.")
public final class TrainCommand implements Callable<Integer> {

    @Option(names = "--out", required = true, description = "Output directory of the checkpoint.")
    Path out;

    @Option(names = "--steps", description = "Optimizer steps (default: ${DEFAULT-VALUE}).")
    int steps = TrainConfig.defaults().steps();

    @Option(names = "--batch", description = "Samples per step (default: ${DEFAULT-VALUE}).")
    int batch = TrainConfig.defaults().batchSize();

    @Option(names = "--lr", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
    float learningRate = TrainConfig.defaults().learningRate();

    @Option(names = "--seed", description = "Seed of weights and data (default: ${DEFAULT-VALUE}).")
    long seed = TrainConfig.defaults().seed();

    @Option(names = "--init", description = "Continue from this checkpoint directory instead of fresh weights (skips stage 1).")
    Path init;

    @Option(names = "--decoder-layers", description = "Decoder layers of a fresh model; ignored with --init (default: ${DEFAULT-VALUE}).")
    int decoderLayers = LvlmConfig.small(Vocabulary.standard().size()).layers();

    @Option(names = "--vision-steps", description = "Stage 1: vision-tower pretraining steps on patch attributes (default: ${DEFAULT-VALUE}).")
    int visionSteps = 3000;

    @Option(names = "--vision-positions", negatable = true, defaultValue = "false", fallbackValue = "true",
            description = "Stage 1 also teaches each patch its row and column (default: ${DEFAULT-VALUE}; experimental: stage 2 then binds words to patches more slowly).")
    boolean visionPositions;

    @Option(names = "--grounding", description = "Weight of the auxiliary grounding loss, 0 for none (default: ${DEFAULT-VALUE}).")
    float grounding = TrainConfig.defaults().groundingWeight();

    @Option(names = "--grounding-layer", description = "Decoder layer (0-based) whose residual output the grounding loss probes, -1 for the final normalized hidden state (default: ${DEFAULT-VALUE}).")
    int groundingLayer = TrainConfig.defaults().groundingLayer();

    @Option(names = "--attention", description = "Weight of the auxiliary attention loss, 0 for none (default: ${DEFAULT-VALUE}).")
    float attention = TrainConfig.defaults().attentionWeight();

    @Option(names = "--attention-layer", description = "Decoder layer of the attention-supervised head (default: ${DEFAULT-VALUE}).")
    int attentionLayer = TrainConfig.defaults().attentionLayer();

    @Option(names = "--attention-head", description = "Query head supervised by the attention loss (default: ${DEFAULT-VALUE}).")
    int attentionHead = TrainConfig.defaults().attentionHead();

    @Option(names = "--freeze-vision", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Keep the stage-1 vision tower fixed in stage 2 (default: ${DEFAULT-VALUE}; --no-freeze-vision trains it).")
    boolean freezeVision;

    @Option(names = "--relation", description = "Weight of the auxiliary relation losses (roles of patches; positions and relation truths at the answer), 0 for none (default: ${DEFAULT-VALUE}).")
    float relation = TrainConfig.defaults().relationWeight();

    @Option(names = "--relation-layer", description = "Decoder layer (0-based) whose residual output the relation role probe reads (default: ${DEFAULT-VALUE}).")
    int relationLayer = TrainConfig.defaults().relationLayer();

    @Option(names = "--relation-answer-layer", description = "Decoder layer (0-based) whose residual output the relation position and truth probes read at the answer, -1 for the final hidden state (default: ${DEFAULT-VALUE}).")
    int relationAnswerLayer = TrainConfig.defaults().relationAnswerLayer();

    @Option(names = "--relation-share", description = "At least this fraction of every batch is relation questions, 0 for each domain's own mix (default: ${DEFAULT-VALUE}).")
    float relationShare = TrainConfig.defaults().relationShare();

    @Option(names = "--eval-every", description = "Steps between quick evaluations, 0 for none (default: ${DEFAULT-VALUE}).")
    int evalEvery = TrainConfig.defaults().evalEvery();

    @Override
    public Integer call() throws Exception {
        TrainConfig d = TrainConfig.defaults();
        TrainConfig config = TrainConfig.builder().steps(steps).batchSize(batch).learningRate(learningRate)
                .warmupSteps(Math.min(d.warmupSteps(), steps / 10)).seed(seed).evalEvery(evalEvery)
                .groundingWeight(grounding).groundingLayer(groundingLayer)
                .attentionWeight(attention).attentionLayer(attentionLayer).attentionHead(attentionHead)
                .freezeVisionTower(freezeVision).relationWeight(relation).relationLayer(relationLayer)
                .relationAnswerLayer(relationAnswerLayer).relationShare(relationShare).build();
        Engine.getInstance().setRandomSeed((int) seed);
        Vocabulary vocabulary = Vocabulary.standard();
        try (NDManager manager = NDManager.newBaseManager()) {
            Checkpoint.Loaded start = init != null ? Checkpoint.load(init, manager) : null;
            // The checkpoint a run continues from is recorded by its content id, not by a path of this machine.
            String initId = start == null ? null : "model " + start.modelId();
            VisionLanguageModel model = start != null
                    ? start.model()
                    : VisionLanguageModel.create(
                            LvlmConfig.small(vocabulary.size()).withDecoderLayers(decoderLayers), manager, seed);
            VqaModel vqa = new VqaModel(model, vocabulary);
            if (init != null) {
                System.out.println("continuing from " + init + ", " + initId + " (stage 1 skipped)");
            } else {
                System.out.printf("stage 1: vision tower on patch attributes, %d steps of %d images%n", visionSteps, batch);
            }
            long visionStart = System.nanoTime();
            double patchAccuracy = visionSteps > 0 && init == null
                    ? new VisionPretraining(visionSteps, batch, 1e-3f, seed, visionPositions, System.out).run(model, manager)
                    : Double.NaN;
            double visionSeconds = (System.nanoTime() - visionStart) / 1e9;
            System.out.printf("stage 2: VQA, %,d parameters, %d steps of %d samples%n", model.parameterCount(), steps, batch);
            VqaTrainer.Result result = new VqaTrainer(config, System.out).train(vqa, manager);
            System.out.println("evaluating on the held-out sets (full precision and W3 g128 round-to-nearest)...");
            ModelCard card = ModelCard.measure(vqa, config, result, visionSteps, patchAccuracy, visionSeconds, visionPositions,
                    initId, manager, System.out);
            Checkpoint.save(model, vocabulary.words(), Map.of("format", "pt", "trained_by", "qig train",
                    "seed", Long.toString(seed), "steps", Integer.toString(steps),
                    "init", start == null ? "none" : start.modelId()), out);
            card.write(out);
            System.out.println(card.markdown());
            System.out.println("checkpoint written to " + out.toAbsolutePath());
        }
        return 0;
    }
}
