package dev.qig.attributor;

import dev.qig.kafka.registry.SchemaRegistries;
import dev.qig.kafka.registry.SchemaRegistryClient;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * An attributor in a JVM of its own, for tests that kill it: starts one from the properties file
 * named by the first argument (after registering the schemas the test's JVM registered, in the same
 * order, so that an in-memory registry gives them the same ids), prints {@value #STARTED}, and
 * blocks until the process is ended.
 */
public final class AttributorProcess {

    static final String STARTED = "attributor started";

    private AttributorProcess() {}

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        try (InputStream in = Files.newInputStream(Path.of(args[0]))) {
            props.load(in);
        }
        AttributorConfig config = new AttributorConfig(props);
        SchemaRegistryClient registry = SchemaRegistries.create(config.registryProperties());
        GptqJobKillTest.registerSchemas(registry, config);
        Attributor attributor = new Attributor(config, registry);
        attributor.start();
        System.out.println(STARTED);
        System.out.flush();
        Thread.currentThread().join();
    }
}
