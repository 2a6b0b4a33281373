package dev.qig.app.commands;

import dev.qig.core.hf.HfLlavaConfig;
import dev.qig.core.hf.RandomCheckpoint;
import dev.qig.io.DType;
import dev.qig.core.hf.TestBedTokenizer;
import dev.qig.core.model.LvlmConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code qig checkpoint}: tools for Hugging Face checkpoint folders. */
@Command(name = "checkpoint", mixinStandardHelpOptions = true,
        description = "Tools for Hugging Face LLaVA checkpoint folders.",
        subcommands = {CheckpointCommand.TokenizerCommand.class, CheckpointCommand.RandomCommand.class})
public final class CheckpointCommand implements Runnable {

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

    /** A random-weight checkpoint of a real model's size: what cost and memory are measured on where no weights can be downloaded. */
    @Command(name = "random", mixinStandardHelpOptions = true,
            description = "Write a random-weight Hugging Face LLaVA checkpoint of a known model's shape (config, processor "
                    + "configs, safetensors shards, a synthetic-world tokenizer): for benchmarks and tests, not answers.")
    static final class RandomCommand implements Callable<Integer> {

        @Parameters(index = "0", paramLabel = "FOLDER", description = "Folder to write (created if absent).")
        Path folder;

        @Option(names = "--preset", description = "Model shape: llava-interleave-qwen-0.5b (0.91 B parameters) or "
                + "llava-1.5-7b (7.1 B) (default: ${DEFAULT-VALUE}).")
        String preset = RandomCheckpoint.Preset.LLAVA_INTERLEAVE_QWEN_0_5B.id();

        @Option(names = "--dtype", description = "Stored weight type: bf16, f16 or f32 (default: ${DEFAULT-VALUE}).")
        String dtype = "bf16";

        @Option(names = "--seed", description = "Seed of the weights (default: ${DEFAULT-VALUE}).")
        long seed = 2026;

        @Option(names = "--max-shard-mb", description = "Largest shard, in MB of 2^20 bytes (default: ${DEFAULT-VALUE}).")
        long maxShardMb = RandomCheckpoint.DEFAULT_SHARD_BYTES >> 20;

        @Option(names = "--force", description = "Write into a folder that already holds a config.json.")
        boolean force;

        @Override
        public Integer call() throws Exception {
            RandomCheckpoint.Preset shape = RandomCheckpoint.Preset.of(preset);
            DType type = DType.fromCode(dtype.toUpperCase(Locale.ROOT));
            if (Files.exists(folder.resolve(HfLlavaConfig.FILE)) && !force) {
                throw new IllegalArgumentException(folder.resolve(HfLlavaConfig.FILE) + " exists (--force writes over it)");
            }
            if (maxShardMb < 1) {
                throw new IllegalArgumentException("--max-shard-mb must be at least 1");
            }
            long start = System.nanoTime();
            long bytes = RandomCheckpoint.write(folder, shape.config(), type, seed, maxShardMb << 20, System.out::println);
            System.out.printf(Locale.ROOT, "wrote %s (%s, random weights, synthetic-world tokenizer): %.2f GB of weights in %.0f s%n",
                    folder, shape.id(), bytes / 1e9, (System.nanoTime() - start) / 1e9);
            return 0;
        }
    }
}
