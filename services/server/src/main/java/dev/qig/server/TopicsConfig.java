package dev.qig.server;

import dev.qig.kafka.config.ServiceConfig;
import dev.qig.kafka.topics.Topics;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;

/**
 * Settings of {@code qig topics}: the keys every service shares (Kafka, its security settings as
 * pass-through keys, partitions, replication factor) and the name of every topic of the design.
 */
public final class TopicsConfig extends ServiceConfig {

    private static final ConfigDef DEFINITION = commonDefinition(Topics.Topic.values());

    public TopicsConfig(Map<?, ?> props) {
        super(DEFINITION, props);
    }

    public static ConfigDef definition() {
        return new ConfigDef(DEFINITION);
    }
}
