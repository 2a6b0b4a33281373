package dev.qig.app;

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

    /**
     * The command line with its error policy: bad input (an unknown scheme, method or domain, a
     * model that does not load) ends with one clear line and exit code 2, not a stack trace; so does
     * a Kafka failure retrying cannot fix (credentials, TLS, the listener's protocol), with exit code 3.
     */
    static CommandLine commandLine() {
        CommandLine cmd = new CommandLine(new QigCommand());
        cmd.setExecutionExceptionHandler((e, line, parsed) -> {
            java.util.Optional<dev.qig.kafka.clients.FatalKafkaException> kafka = dev.qig.kafka.clients.FatalKafkaException.in(e);
            if (kafka.isPresent()) {
                ServiceCommands.reportFatalKafkaError(line.getCommandName(), kafka.get());
                return ServiceCommands.EXIT_KAFKA_MISCONFIGURED;
            }
            if (e instanceof IllegalArgumentException || e instanceof java.io.IOException
                    || e instanceof org.apache.kafka.common.config.ConfigException) {
                line.getErr().println("qig " + line.getCommandName() + ": " + e.getMessage());
                return 2;
            }
            throw e;
        });
        return cmd;
    }
}
