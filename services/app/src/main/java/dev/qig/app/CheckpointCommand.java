package dev.qig.app;

import dev.qig.core.hf.HfLlavaConfig;
import dev.qig.core.hf.TestBedTokenizer;
import dev.qig.core.model.LvlmConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code qig checkpoint}: tools for Hugging Face checkpoint folders. */
@Command(name = "checkpoint", mixinStandardHelpOptions = true,
        description = "Tools for Hugging Face LLaVA checkpoint folders.",
        subcommands = {CheckpointCommand.TokenizerCommand.class})
final class CheckpointCommand implements Runnable {

    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    /**
     * Gives a random-weight checkpoint without a tokenizer (such as the golden fixtures) one over the
     * synthetic world's words, so the services can run it on synthetic samples.
     */
    @Command(name = "tokenizer", mixinStandardHelpOptions = true,
            description = "Write a synthetic-world tokenizer (tokenizer.json, tokenizer_config.json, chat_template.jinja) "
                    + "into a checkpoint folder that has none: for random-weight test checkpoints, not real models.")
    static final class TokenizerCommand implements Callable<Integer> {

        @Parameters(index = "0", paramLabel = "FOLDER", description = "A Hugging Face LLaVA checkpoint folder.")
        Path folder;

        @Option(names = "--force", description = "Replace an existing tokenizer.json.")
        boolean force;

        @Override
        public Integer call() throws Exception {
            LvlmConfig config = HfLlavaConfig.read(folder);
            if (Files.exists(folder.resolve("tokenizer.json")) && !force) {
                throw new IllegalArgumentException(folder.resolve("tokenizer.json") + " exists; a real checkpoint keeps its own "
                        + "tokenizer (--force replaces it)");
            }
            TestBedTokenizer.write(folder, config);
            System.out.println("wrote tokenizer.json, tokenizer_config.json and chat_template.jinja (synthetic-world words, "
                    + "ChatML, <image> = " + config.imageTokenId() + ") into " + folder);
            return 0;
        }
    }
}
