package dev.qig.kafka.config;

import dev.qig.kafka.registry.SchemaRegistries;
import dev.qig.kafka.serde.KeyFormat;
import dev.qig.kafka.topics.Topics;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.function.Predicate;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.common.config.ConfigException;

/**
 * The base of every service's typed configuration, in the manner of Kafka's {@code StreamsConfig}:
 * each key is defined once in a {@link ConfigDef} with its type, default, validator and doc, so the
 * code, the generated configuration reference ({@link ConfigDocs}) and the environment variables of
 * the deployment files cannot drift apart. The keys every service shares are here (Kafka, schema
 * registry, topic names); each service adds its own. Keys of the Kafka clients (for example
 * {@code security.protocol}, {@code sasl.jaas.config}, {@code ssl.*}) pass through to them, and
 * {@code schema.registry.*} and the Confluent auth keys to the registry client. Any other key is
 * refused at start, naming the closest known one: a misspelt setting must not be silently ignored.
 */
public abstract class ServiceConfig extends AbstractConfig {

    public static final String BOOTSTRAP_SERVERS = CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG;
    public static final String SCHEMA_REGISTRY_URL = SchemaRegistries.URL;
    public static final String INSTANCE_ID = "instance.id";
    public static final String TOPICS_CREATE = "topics.create";
    public static final String TOPICS_PARTITIONS = "topics.partitions";
    public static final String TOPICS_REPLICATION_FACTOR = "topics.replication.factor";
    /** Port of the service's Prometheus metrics and health endpoints; 0 picks a free port, -1 turns them off. */
    public static final String METRICS_PORT = "metrics.port";
    public static final String KEY_FORMAT = "key.format";
    /** The keys of Kafka's producer, consumer and admin clients: a service hands them on to its clients. */
    public static final Set<String> CLIENT_KEYS = clientKeys();

    /** A list with at least one entry. */
    public static final ConfigDef.Validator NON_EMPTY_LIST = new ConfigDef.Validator() {
        @Override
        public void ensureValid(String name, Object value) {
            if (!(value instanceof List<?> list) || list.isEmpty() || list.stream().anyMatch(v -> v.toString().isBlank())) {
                throw new org.apache.kafka.common.config.ConfigException(name, value, "needs at least one non-blank entry");
            }
        }

        @Override
        public String toString() {
            return "non-empty list";
        }
    };

    /**
     * The keys of a command that writes no records and serves no metrics ({@code qig topics}), and
     * the names of the topics it uses.
     */
    protected static ConfigDef commonDefinition(Topics.Topic... topics) {
        ConfigDef def = commonDefinition(-1, topics);
        ConfigDef out = new ConfigDef();
        def.configKeys().values().stream().filter(k -> !k.name.equals(METRICS_PORT) && !k.name.equals(KEY_FORMAT))
                .forEach(out::define);
        return out;
    }

    /**
     * The keys every service has, with the service's own default {@value #METRICS_PORT}, and the
     * names of the topics it uses, in a fresh definition that the service extends with its own.
     */
    protected static ConfigDef commonDefinition(int defaultMetricsPort, Topics.Topic... topics) {
        ConfigDef def = new ConfigDef()
                .define(BOOTSTRAP_SERVERS, Type.LIST, ConfigDef.NO_DEFAULT_VALUE, NON_EMPTY_LIST,
                        Importance.HIGH, "Kafka brokers, host:port[,host:port...].")
                .define(SCHEMA_REGISTRY_URL, Type.STRING, ConfigDef.NO_DEFAULT_VALUE, new ConfigDef.NonEmptyString(),
                        Importance.HIGH, "Confluent-compatible schema registry base URL(s), comma separated; "
                                + "mock://<scope> is an in-memory registry shared within the JVM (tests, single-process runs).")
                .define(INSTANCE_ID, Type.STRING, "", Importance.LOW,
                        "Name of this instance in records and logs; empty means the host name and a random suffix.")
                .define(TOPICS_CREATE, Type.BOOLEAN, true, Importance.LOW,
                        "Create the topics this service uses when they are missing (with the partitions and "
                                + "replication factor below; compacted where the topic table says so).")
                .define(TOPICS_PARTITIONS, Type.INT, 4, ConfigDef.Range.atLeast(1), Importance.LOW,
                        "Partitions of topics this service creates. Attributors scale up to the samples topic's partitions.")
                .define(TOPICS_REPLICATION_FACTOR, Type.SHORT, (short) -1, Importance.LOW,
                        "Replication factor of topics this service creates; -1 takes the broker's default.")
                .define(METRICS_PORT, Type.INT, defaultMetricsPort, ConfigDef.Range.between(-1, 65535), Importance.MEDIUM,
                        "Port of the HTTP endpoint with Prometheus metrics (/metrics) and health checks (/health/live, "
                                + "/health/ready); 0 picks a free port, -1 turns the endpoint off.")
                .define(KEY_FORMAT, Type.STRING, KeyFormat.STRING.id(), ConfigDef.CaseInsensitiveValidString.in("string", "avro"),
                        Importance.LOW, "Format of the record keys this service writes: 'string' (plain UTF-8) or 'avro' "
                                + "(an Avro string in Confluent's wire format, its schema registered under <topic>-key, "
                                + "for consumers that expect Avro keys, such as Confluent's AvroConsumer). Keys are read "
                                + "in either format. One format per deployment: a key's partition follows its bytes.");
        for (Topics.Topic t : topics) {
            def.define(t.configKey(), Type.STRING, t.defaultName(), new ConfigDef.NonEmptyString(), Importance.MEDIUM,
                    "Topic name: " + t.description());
        }
        return def;
    }

    private final ConfigDef definition;
    private final String instanceId;

    protected ServiceConfig(ConfigDef definition, Map<?, ?> props) {
        this(definition, props, key -> false);
    }

    /**
     * @param handedOn keys the service hands to a library besides the Kafka clients' and the
     *     registry's (the aggregator: Kafka Streams' keys and their client prefixes)
     * @throws ConfigException for a key that is none of these, naming the closest known key
     */
    protected ServiceConfig(ConfigDef definition, Map<?, ?> props, Predicate<String> handedOn) {
        super(definition, props, false);
        this.definition = definition;
        for (Object k : props.keySet()) {
            String key = String.valueOf(k);
            if (!definition.names().contains(key) && !isRegistryKey(key) && !isClientKey(key) && !handedOn.test(key)) {
                Set<String> known = new TreeSet<>(definition.names());
                known.addAll(CLIENT_KEYS);
                throw new ConfigException(key, props.get(k), "not a setting of this service nor of its Kafka or "
                        + "schema registry clients" + ConfigKeys.didYouMean(key, definition.names(), known));
            }
        }
        String id = getString(INSTANCE_ID);
        this.instanceId = id.isBlank() ? hostName() + "-" + UUID.randomUUID().toString().substring(0, 8) : id;
    }

    public String instanceId() {
        return instanceId;
    }

    /** {@value #METRICS_PORT}: the metrics and health port; 0 = a free port, -1 = off. */
    public int metricsPort() {
        return getInt(METRICS_PORT);
    }

    /** {@value #KEY_FORMAT}: how this service writes record keys ({@link KeyFormat#STRING} where the key is not defined). */
    public KeyFormat keyFormat() {
        return definition.names().contains(KEY_FORMAT) ? KeyFormat.of(getString(KEY_FORMAT)) : KeyFormat.STRING;
    }

    /** The name of a topic as configured. */
    public String topic(Topics.Topic topic) {
        return getString(topic.configKey());
    }

    /** What a Kafka client of this service gets: bootstrap servers and every key this config does not define itself. */
    public Map<String, Object> kafkaClientProperties() {
        Map<String, Object> out = new HashMap<>();
        Set<String> own = definition.names();
        originals().forEach((k, v) -> {
            if (!own.contains(k) && !isRegistryKey(k)) {
                out.put(k, v);
            }
        });
        out.put(BOOTSTRAP_SERVERS, String.join(",", getList(BOOTSTRAP_SERVERS)));
        return out;
    }

    /** What the schema registry client gets: its URL and auth keys. */
    public Map<String, Object> registryProperties() {
        Map<String, Object> out = new HashMap<>();
        originals().forEach((k, v) -> {
            if (isRegistryKey(k)) {
                out.put(k, v);
            }
        });
        out.put(SCHEMA_REGISTRY_URL, getString(SCHEMA_REGISTRY_URL));
        return out;
    }

    /** Creates the given topics when {@value #TOPICS_CREATE} is on and they are missing. */
    public void ensureTopics(Topics.Topic... topics) throws InterruptedException {
        if (!getBoolean(TOPICS_CREATE)) {
            return;
        }
        try (Admin admin = Admin.create(kafkaClientProperties())) {
            Topics.ensure(admin, Topics.named(List.of(topics), this::topic), getInt(TOPICS_PARTITIONS),
                    getShort(TOPICS_REPLICATION_FACTOR));
        }
    }

    /** Whether a key is a Kafka producer's, consumer's or admin client's, which the service hands to them. */
    public static boolean isClientKey(String key) {
        return CLIENT_KEYS.contains(key);
    }

    private static Set<String> clientKeys() {
        Set<String> keys = new TreeSet<>(ProducerConfig.configNames());
        keys.addAll(ConsumerConfig.configNames());
        keys.addAll(AdminClientConfig.configNames());
        return java.util.Collections.unmodifiableSet(keys);
    }

    private static boolean isRegistryKey(String key) {
        return key.startsWith(SchemaRegistries.PREFIX) || SchemaRegistries.CLIENT_KEYS.contains(key);
    }

    private static String hostName() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            return "qig";
        }
    }
}
