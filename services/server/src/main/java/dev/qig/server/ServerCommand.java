package dev.qig.server;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The service jar's command line: what the image runs ({@code qig-server.jar attributor},
 * {@code config attributor}, {@code topics}). The same commands are in the full {@code qig} tool
 * (services/app), which adds the demo, training, studies and benchmarks.
 */
@Command(
        name = "qig",
        mixinStandardHelpOptions = true,
        version = "qig-stream 0.1.0",
        description = "The qig-stream services (the full tool, with demo, train and the studies, is qig.jar).",
        subcommands = {ServiceCommands.IngestCommand.class, ServiceCommands.AttributorCommand.class,
                ServiceCommands.AggregatorCommand.class, ServiceCommands.EvaluatorCommand.class,
                ServiceCommands.PublisherCommand.class, ServiceCommands.TopicsCommand.class,
                ServiceCommands.ConfigCommand.class})
public final class ServerCommand implements Runnable {

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    public static void main(String[] args) {
        EngineSetup.configureDefaults();
        System.exit(withErrorPolicy(new CommandLine(new ServerCommand())).execute(args));
    }

    /**
     * The error policy of every qig command line: bad input (an unknown scheme, method or domain, a
     * model that does not load) ends with one clear line and exit code 2, not a stack trace; so does
     * a Kafka failure retrying cannot fix (credentials, TLS, the listener's protocol), with exit code 3.
     */
    public static CommandLine withErrorPolicy(CommandLine cmd) {
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
