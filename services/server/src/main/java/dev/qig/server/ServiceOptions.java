package dev.qig.server;

import dev.qig.kafka.config.ConfigSources;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import picocli.CommandLine.Option;

/**
 * The options of every service command: a properties file and {@code --set key=value} overrides,
 * over the environment ({@code QIG_*}) and the defaults (see {@link ConfigSources}).
 */
final class ServiceOptions {

    @Option(names = "--config", description = "Properties file with the service's settings.")
    Path file;

    @Option(names = "--set", description = "A setting, key=value; repeatable; wins over the file and the environment.")
    List<String> assignments = new ArrayList<>();

    /** The merged settings for a service's definition. */
    Map<String, String> resolve(ConfigDef definition) {
        return resolve(definition, java.util.Set.of());
    }

    /** The merged settings, where the environment may also set {@code passThroughKeys} (Kafka Streams' keys). */
    Map<String, String> resolve(ConfigDef definition, java.util.Collection<String> passThroughKeys) {
        return ConfigSources.resolve(definition, passThroughKeys, ServiceCommands.ConfigCommand.allKeys(), file,
                System.getenv(), ConfigSources.parseAssignments(assignments));
    }
}
