package dev.qig.app;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code qig} command line. */
@Command(
        name = "qig",
        mixinStandardHelpOptions = true,
        version = "qig-stream 0.1.0",
        description = "Streaming QIG calibration and evaluation of quantized vision-language models.",
        subcommands = {TrainCommand.class, EvalCommand.class, CalibrateCommand.class, BenchCommand.class, AttributionCommand.class})
public final class QigCommand implements Runnable {

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    public static void main(String[] args) {
        EngineSetup.configureDefaults();
        System.exit(new CommandLine(new QigCommand()).execute(args));
    }
}
