package dev.qig.app;

import ai.djl.ndarray.NDManager;
import dev.qig.data.Vocabulary;
import dev.qig.core.model.Checkpoint;
import dev.qig.core.vqa.VqaModel;
import java.io.IOException;
import picocli.CommandLine.Option;

/** The {@code --model} option every command that runs a checkpoint shares, and its loading. */
public final class ModelOption {

    @Option(names = "--model", description = "Checkpoint directory or classpath:<folder> (default: ${DEFAULT-VALUE}).")
    public String location = Checkpoint.SHIPPED;

    /** The loaded model's content id (set by {@link #load}); what configs and records name the model by. */
    public String id;

    /** Loads the checkpoint onto {@code manager} as a VQA model. */
    public VqaModel load(NDManager manager) throws IOException {
        Checkpoint.Loaded loaded = Checkpoint.load(location, manager);
        id = loaded.modelId();
        return loaded.vqa();
    }
}
