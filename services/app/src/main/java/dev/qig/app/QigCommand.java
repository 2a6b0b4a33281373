package dev.qig.app;

import dev.qig.app.commands.AttributionCommand;
import dev.qig.app.bench.BenchCommand;
import dev.qig.app.study.CalibrateCommand;
import dev.qig.app.commands.CheckpointCommand;
import dev.qig.app.pipeline.DemoCommand;
import dev.qig.app.study.DriftStudyCommand;
import dev.qig.server.EngineSetup;
import dev.qig.server.ServerCommand;
import dev.qig.app.commands.EvalCommand;
import dev.qig.app.commands.ExportCommand;
import dev.qig.server.ServiceCommands;
import dev.qig.app.pipeline.StreamCommand;
import dev.qig.app.commands.TrainCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code qig} command line. */
@Command(
        name = "qig",
        mixinStandardHelpOptions = true,
        version = "qig-stream 0.1.0",
        description = "Streaming QIG calibration and evaluation of quantized vision-language models.",
        subcommands = {DemoCommand.class, TrainCommand.class, EvalCommand.class, CalibrateCommand.class, DriftStudyCommand.class,
                BenchCommand.class, AttributionCommand.class, StreamCommand.class, ServiceCommands.IngestCommand.class,
                ServiceCommands.AttributorCommand.class, ServiceCommands.AggregatorCommand.class,
                ServiceCommands.EvaluatorCommand.class, ServiceCommands.PublisherCommand.class,
                ServiceCommands.TopicsCommand.class,
                ServiceCommands.ConfigCommand.class, CheckpointCommand.class, ExportCommand.class})
public final class QigCommand implements Runnable {

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    public static void main(String[] args) {
        EngineSetup.configureDefaults();
        System.exit(commandLine().execute(args));
    }

    /** The command line with the error policy of {@link ServerCommand#withErrorPolicy}. */
    public static CommandLine commandLine() {
        return ServerCommand.withErrorPolicy(new CommandLine(new QigCommand()));
    }
}
