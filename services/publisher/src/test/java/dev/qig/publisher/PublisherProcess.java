package dev.qig.publisher;

import dev.qig.kafka.registry.SchemaRegistries;
import dev.qig.kafka.registry.SchemaRegistryClient;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * A publisher in a JVM of its own, for tests that kill it: starts one from the properties file named
 * by the first argument, prints {@value #STARTED}, and blocks until the process is ended.
 */
public final class PublisherProcess {

    static final String STARTED = "publisher started";

    private PublisherProcess() {}

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        try (InputStream in = Files.newInputStream(Path.of(args[0]))) {
            props.load(in);
        }
        PublisherConfig config = new PublisherConfig(props);
        SchemaRegistryClient registry = SchemaRegistries.create(config.registryProperties());
        PublisherTestKit.registerSchemas(registry, config); // the ids the test's JVM gave them
        Publisher publisher = new Publisher(config, registry);
        publisher.start();
        System.out.println(STARTED);
        System.out.flush();
        Thread.currentThread().join();
    }
}
