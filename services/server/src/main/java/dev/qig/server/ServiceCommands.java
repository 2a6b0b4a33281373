package dev.qig.server;

import dev.qig.aggregator.Aggregator;
import dev.qig.aggregator.AggregatorConfig;
import dev.qig.attributor.Attributor;
import dev.qig.attributor.AttributorConfig;
import dev.qig.attributor.internals.AttributorStats;
import dev.qig.evaluator.Evaluator;
import dev.qig.evaluator.EvaluatorConfig;
import dev.qig.evaluator.internals.EvaluatorStats;
import dev.qig.ingest.Ingest;
import dev.qig.kafka.clients.ListenerCheck;
import dev.qig.ingest.IngestConfig;
import dev.qig.kafka.config.ConfigDocs;
import dev.qig.kafka.registry.SchemaRegistries;
import dev.qig.publisher.Publisher;
import dev.qig.publisher.PublisherConfig;
import dev.qig.publisher.internals.PublisherStats;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.common.config.ConfigDef;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * One command per service, each configured by its typed config (file, {@code QIG_*} environment,
 * {@code --set}); {@code qig config SERVICE} prints a service's settings as a table.
 */
public final class ServiceCommands {

    /** Exit code of a service that met a Kafka failure retrying cannot fix (credentials, TLS, the listener's protocol). */
    static final int EXIT_KAFKA_MISCONFIGURED = 3;

    private ServiceCommands() {}

    /**
     * Before the service is built: the bootstrap servers' listener must speak {@code
     * security.protocol} (Kafka's clients would retry a mismatch for minutes, or run out of memory).
     * While it runs: the first failure the broker probe cannot retry away (wrong credentials, a
     * failed TLS handshake) ends the JVM with one line naming it, exit code {@value
     * #EXIT_KAFKA_MISCONFIGURED}; readiness is already false then.
     */
    private static void endOnFatalKafkaError(String command, dev.qig.kafka.metrics.ServiceMetrics metrics) {
        metrics.fatalKafkaError().thenAccept(f -> {
            reportFatalKafkaError(command, f);
            // Not on the probe's thread: System.exit runs the shutdown hook, which closes the probe.
            Thread exit = new Thread(() -> System.exit(EXIT_KAFKA_MISCONFIGURED), "qig-exit");
            exit.start();
            Thread halt = new Thread(() -> {
                try {
                    Thread.sleep(15_000);
                } catch (InterruptedException e) {
                    return;
                }
                Runtime.getRuntime().halt(EXIT_KAFKA_MISCONFIGURED); // a close stuck on an unusable cluster
            }, "qig-exit-deadline");
            halt.setDaemon(true);
            halt.start();
        });
    }

    private static final java.util.concurrent.atomic.AtomicBoolean FATAL_REPORTED =
            new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * Prints the one line naming a fatal Kafka failure, once per JVM: the probe and the command's
     * own thread (a client call failing the same way) may both meet it.
     */
    static void reportFatalKafkaError(String command, dev.qig.kafka.clients.FatalKafkaException f) {
        if (FATAL_REPORTED.compareAndSet(false, true)) {
            System.err.println("qig " + command + ": " + f.getMessage());
            System.err.flush();
        }
    }

    /** Blocks until the JVM is asked to stop (Ctrl-C, SIGTERM), then closes the service. */
    private static void runUntilStopped(AutoCloseable service, Runnable report) throws Exception {
        CountDownLatch stop = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop.countDown();
            try {
                closed.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "qig-shutdown"));
        try {
            while (!stop.await(10, java.util.concurrent.TimeUnit.SECONDS)) {
                report.run();
            }
        } finally {
            service.close();
            closed.countDown();
        }
    }

    /** ", metrics at URL" when the service serves metrics. */
    public static String metricsText(dev.qig.kafka.metrics.ServiceMetrics metrics) {
        return metrics.metricsUrl() == null ? "" : ", metrics at " + metrics.metricsUrl();
    }

    @Command(name = "ingest", mixinStandardHelpOptions = true,
            description = "Write calibration samples to the samples topic: the synthetic world on a schedule, a folder "
                    + "of image + JSON files, or a JSON-lines file. Settings: `qig config ingest`.")
    public static final class IngestCommand implements Callable<Integer> {
        @Mixin
        ServiceOptions options;

        @Override
        public Integer call() throws Exception {
            IngestConfig config = new IngestConfig(options.resolve(IngestConfig.definition()));
            ListenerCheck.verify(config.kafkaClientProperties());
            try (Ingest ingest = new Ingest(config, SchemaRegistries.create(config.registryProperties()))) {
                endOnFatalKafkaError("ingest", ingest.metrics().service());
                Runtime.getRuntime().addShutdownHook(new Thread(ingest::stop, "qig-ingest-stop"));
                ProgressLine progress = new ProgressLine(System.out);
                Ingest.Summary s = ingest.run(n -> progress.show(() -> "ingest: " + n + " samples sent"
                        + metricsText(ingest.metrics().service())));
                progress.done(String.format(Locale.ROOT, "ingest: %d samples sent, %d dead letters, %.1f s%s", s.samplesSent(),
                        s.deadLettered(), s.seconds(), s.stopped() ? " (stopped)" : ""));
            }
            return 0;
        }
    }

    @Command(name = "attributor", mixinStandardHelpOptions = true,
            description = "Run an attributor: a consumer group member that computes QIG token attributions and partial sums "
                    + "of every sample. Runs until stopped. Settings: `qig config attributor`.")
    public static final class AttributorCommand implements Callable<Integer> {
        @Mixin
        ServiceOptions options;

        @Override
        public Integer call() throws Exception {
            AttributorConfig config = new AttributorConfig(options.resolve(AttributorConfig.definition()));
            ListenerCheck.verify(config.kafkaClientProperties());
            Attributor attributor = new Attributor(config, SchemaRegistries.create(config.registryProperties()));
            endOnFatalKafkaError("attributor", attributor.metrics());
            attributor.start();
            System.out.println("attributor " + config.instanceId() + " serving " + config.models() + " " + config.schemes()
                    + metricsText(attributor.metrics()));
            runUntilStopped(attributor, () -> {
                AttributorStats s = attributor.stats();
                System.out.printf(Locale.ROOT, "consumed %d, attributed %d, dead letters %s, engine %.1f s%n", s.consumed(),
                        s.attributed(), s.deadLetteredByReason(), s.engineSeconds());
            });
            return 0;
        }
    }

    @Command(name = "aggregator", mixinStandardHelpOptions = true,
            description = "Run the aggregator: a Kafka Streams application that sums partial sums into rounds and publishes "
                    + "plans and configs. Runs until stopped. Settings: `qig config aggregator`.")
    public static final class AggregatorCommand implements Callable<Integer> {
        @Mixin
        ServiceOptions options;

        @Option(names = "--from-beginning", description = "Reset the application first (its consumer group, internal "
                + "topics and local state; every instance must be stopped) and recompute every round from the retained "
                + "layer-stats topic: the same plans and configs are published again.")
        boolean fromBeginning;

        @Override
        public Integer call() throws Exception {
            AggregatorConfig config = new AggregatorConfig(options.resolve(AggregatorConfig.definition(),
                    AggregatorConfig.streamsKeys()));
            ListenerCheck.verify(config.kafkaClientProperties());
            if (fromBeginning) {
                Aggregator.resetToBeginning(config);
            }
            Aggregator aggregator = new Aggregator(config, SchemaRegistries.create(config.registryProperties()));
            endOnFatalKafkaError("aggregator", aggregator.metrics());
            aggregator.start();
            System.out.println("aggregator " + config.instanceId() + (aggregator.httpPort() > 0
                    ? ", rounds at http://localhost:" + aggregator.httpPort() + "/rounds" : "") + metricsText(aggregator.metrics()));
            runUntilStopped(aggregator, () -> {
                if (aggregator.isRunning()) {
                    aggregator.rounds().forEach(r -> System.out.printf(Locale.ROOT, "%s: round %d, plan %d, %d/%d samples%n",
                            r.roundKey(), r.round(), r.planVersion(), r.samples(), config.roundSamples()));
                }
            });
            return 0;
        }
    }

    @Command(name = "evaluator", mixinStandardHelpOptions = true,
            description = "Run the evaluator: applies every quantization config to its own model copy, evaluates it against "
                    + "full precision on held-out questions, writes EvalResults and promotes configs that do not lose "
                    + "accuracy. Runs until stopped. Settings: `qig config evaluator`.")
    public static final class EvaluatorCommand implements Callable<Integer> {
        @Mixin
        ServiceOptions options;

        @Override
        public Integer call() throws Exception {
            EvaluatorConfig config = new EvaluatorConfig(options.resolve(EvaluatorConfig.definition()));
            ListenerCheck.verify(config.kafkaClientProperties());
            if (config.device() == EvaluatorConfig.DeviceSetting.CPU) {
                EngineSetup.quietGpuDetection();
            }
            Evaluator evaluator = new Evaluator(config, SchemaRegistries.create(config.registryProperties()));
            endOnFatalKafkaError("evaluator", evaluator.metrics());
            evaluator.start();
            System.out.println("evaluator " + config.instanceId() + " serving " + config.models() + ", "
                    + config.questionsPerDomain() + " questions per domain of " + config.evalDomains()
                    + metricsText(evaluator.metrics()));
            runUntilStopped(evaluator, () -> {
                EvaluatorStats s = evaluator.stats();
                System.out.printf(Locale.ROOT, "consumed %d, evaluated %d, promoted %d, refused %d, dead letters %s, "
                        + "evaluation %.1f s%n", s.consumed(), s.evaluated(), s.promoted(), s.refused(),
                        s.deadLetteredByReason(), s.evalSeconds());
            });
            return 0;
        }
    }

    @Command(name = "publisher", mixinStandardHelpOptions = true,
            description = "Run the publisher: exports every promoted config as a checkpoint vLLM loads (compressed-tensors), "
                    + "commits it to a folder or S3-compatible storage and announces it on the published-models topic. "
                    + "Runs until stopped. Settings: `qig config publisher`.")
    public static final class PublisherCommand implements Callable<Integer> {
        @Mixin
        ServiceOptions options;

        @Override
        public Integer call() throws Exception {
            PublisherConfig config = new PublisherConfig(options.resolve(PublisherConfig.definition()));
            ListenerCheck.verify(config.kafkaClientProperties());
            EngineSetup.quietGpuDetection(); // exports run on the CPU
            Publisher publisher = new Publisher(config, SchemaRegistries.create(config.registryProperties()));
            endOnFatalKafkaError("publisher", publisher.metrics());
            publisher.start();
            System.out.println("publisher " + config.instanceId() + " serving " + config.models() + ", publishing to "
                    + config.destination() + metricsText(publisher.metrics()));
            runUntilStopped(publisher, () -> {
                PublisherStats s = publisher.stats();
                System.out.printf(Locale.ROOT, "consumed %d, published %d (%d bytes), duplicates skipped %d, "
                        + "dead letters %s%n", s.consumed(), s.published(), s.bytes(), s.skippedDuplicates(),
                        s.failuresByReason());
            });
            return 0;
        }
    }

    @Command(name = "topics", mixinStandardHelpOptions = true,
            description = "Create every topic of the design that is missing (compacted where the topic table says so) "
                    + "with topics.partitions and topics.replication.factor, then list them; for deployments where the "
                    + "services run with topics.create=false. Settings: `qig config topics`.")
    public static final class TopicsCommand implements Callable<Integer> {
        @Mixin
        ServiceOptions options;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            TopicsConfig config = new TopicsConfig(options.resolve(TopicsConfig.definition()));
            ListenerCheck.verify(config.kafkaClientProperties());
            java.util.Map<dev.qig.kafka.topics.Topics.Topic, String> names = dev.qig.kafka.topics.Topics.named(
                    java.util.List.of(dev.qig.kafka.topics.Topics.Topic.values()), config::topic);
            try (org.apache.kafka.clients.admin.Admin admin =
                         org.apache.kafka.clients.admin.Admin.create(config.kafkaClientProperties())) {
                dev.qig.kafka.topics.Topics.ensure(admin, names, config.getInt(TopicsConfig.TOPICS_PARTITIONS),
                        config.getShort(TopicsConfig.TOPICS_REPLICATION_FACTOR));
                java.util.Map<String, org.apache.kafka.clients.admin.TopicDescription> described =
                        admin.describeTopics(names.values()).allTopicNames().get();
                java.io.PrintWriter out = spec.commandLine().getOut();
                new java.util.TreeMap<>(described).forEach((name, d) -> out.printf(Locale.ROOT, "%s: %d partitions%n",
                        name, d.partitions().size()));
                out.flush();
            }
            return 0;
        }
    }

    @Command(name = "config", mixinStandardHelpOptions = true,
            description = "Print a service's settings (key, environment variable, type, default, valid values, description) "
                    + "as a Markdown table.")
    public static final class ConfigCommand implements Callable<Integer> {
        @Parameters(paramLabel = "SERVICE", description = "ingest, attributor, aggregator, evaluator, publisher or topics")
        String service;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            spec.commandLine().getOut().print(ConfigDocs.markdown(definition(service)));
            spec.commandLine().getOut().flush();
            return 0;
        }

        /**
         * Keys a service does not define but hands on, which {@code QIG_*} variables may set besides the
         * Kafka clients' and the registry client's (see ConfigSources#envKeys): Kafka Streams' for the aggregator.
         */
        public static java.util.Set<String> passThroughKeys(String service) {
            definition(service); // the same check of the name
            return service.equalsIgnoreCase("aggregator") ? AggregatorConfig.streamsKeys() : java.util.Set.of();
        }

        /** Every key of every service (and Kafka Streams'): what one environment shared by the services may set. */
        public static java.util.Set<String> allKeys() {
            java.util.Set<String> keys = new java.util.TreeSet<>(AggregatorConfig.streamsKeys());
            for (String s : java.util.List.of("ingest", "attributor", "aggregator", "evaluator", "publisher", "topics")) {
                keys.addAll(definition(s).names());
            }
            return keys;
        }

        public static ConfigDef definition(String service) {
            return switch (service.toLowerCase(Locale.ROOT)) {
                case "ingest" -> IngestConfig.definition();
                case "attributor" -> AttributorConfig.definition();
                case "aggregator" -> AggregatorConfig.definition();
                case "evaluator" -> EvaluatorConfig.definition();
                case "publisher" -> PublisherConfig.definition();
                case "topics" -> TopicsConfig.definition();
                default -> throw new IllegalArgumentException("unknown service '" + service
                        + "'; expected ingest, attributor, aggregator, evaluator, publisher or topics");
            };
        }
    }
}
