package dev.qig.kafka.config;

import dev.qig.kafka.registry.SchemaRegistries;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.kafka.common.config.ConfigDef;

/**
 * Where a service's settings come from, lowest precedence first: the defaults of its
 * {@link ConfigDef}, a properties file, environment variables, then overrides (the command line).
 * An environment variable names a key in upper case with dots and dashes as underscores and the
 * prefix {@value #ENV_PREFIX}: {@code QIG_BOOTSTRAP_SERVERS} sets {@code bootstrap.servers},
 * {@code QIG_SASL_JAAS_CONFIG} the Kafka client's {@code sasl.jaas.config}. A {@code QIG_*} variable
 * that sets no key of the service nor of any other it runs beside ({@code otherKeys}: one environment
 * file may serve every service) is refused, naming the closest variable; {@code QIG_JAVA_OPTS} (the
 * launcher's) is exempt.
 */
public final class ConfigSources {

    public static final String ENV_PREFIX = "QIG_";
    /** {@code QIG_*} variables that are no setting: the launcher's. */
    public static final Set<String> LAUNCHER_VARIABLES = Set.of("QIG_JAVA_OPTS");

    private ConfigSources() {}

    /**
     * The merged settings.
     *
     * @param definition the service's keys (client and registry keys are known too)
     * @param file a properties file, or null
     * @param env the environment (usually {@code System.getenv()})
     * @param overrides highest precedence, e.g. {@code --set key=value} from the command line
     */
    public static Map<String, String> resolve(ConfigDef definition, Path file, Map<String, String> env,
                                              Map<String, String> overrides) {
        return resolve(definition, Set.of(), Set.of(), file, env, overrides);
    }

    /**
     * The merged settings, where the environment may also set {@code passThroughKeys}: keys of a
     * library the service hands its settings to (the aggregator: Kafka Streams' {@code state.dir},
     * {@code commit.interval.ms}, ...), which a file and {@code --set} pass through anyway.
     */
    public static Map<String, String> resolve(ConfigDef definition, Collection<String> passThroughKeys, Path file,
                                              Map<String, String> env, Map<String, String> overrides) {
        return resolve(definition, passThroughKeys, Set.of(), file, env, overrides);
    }

    /**
     * As above, where {@code otherKeys} are the keys of the services that may share the environment:
     * their variables are ignored here, and a {@code QIG_*} variable of no service is refused.
     *
     * @throws IllegalArgumentException for such a variable, naming the closest known one
     */
    public static Map<String, String> resolve(ConfigDef definition, Collection<String> passThroughKeys,
                                              Collection<String> otherKeys, Path file, Map<String, String> env,
                                              Map<String, String> overrides) {
        Map<String, String> out = new LinkedHashMap<>();
        if (file != null) {
            out.putAll(readProperties(file));
        }
        Set<String> known = new TreeSet<>(passThroughKeys);
        known.addAll(out.keySet());
        known.addAll(overrides.keySet());
        Map<String, String> byEnvName = envKeys(definition, known);
        Set<String> elsewhere = new TreeSet<>(LAUNCHER_VARIABLES);
        otherKeys.forEach(k -> elsewhere.add(envName(k)));
        new TreeMap<>(env).forEach((name, value) -> {
            String key = byEnvName.get(name);
            if (key != null) {
                out.put(key, value);
            } else if (name.startsWith(ENV_PREFIX) && !elsewhere.contains(name)) {
                Set<String> all = new TreeSet<>(byEnvName.keySet());
                all.addAll(elsewhere);
                Set<String> own = new TreeSet<>();
                definition.names().forEach(k -> own.add(envName(k)));
                throw new IllegalArgumentException("environment variable " + name + " sets no setting of this or any "
                        + "other qig service" + ConfigKeys.didYouMean(name, own, all).replace("'", ""));
            }
        });
        out.putAll(overrides);
        return out;
    }

    /** The environment variable that sets a key. */
    public static String envName(String key) {
        return ENV_PREFIX + key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
    }

    /** Parses {@code key=value} pairs as given on a command line. */
    public static Map<String, String> parseAssignments(Collection<String> assignments) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String a : assignments) {
            int eq = a.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("expected key=value, got '" + a + "'");
            }
            out.put(a.substring(0, eq).strip(), a.substring(eq + 1).strip());
        }
        return out;
    }

    /**
     * Every environment variable that sets a key, with the key it sets: the service's own keys, the
     * Kafka clients' (producer, consumer, admin: {@code QIG_SECURITY_PROTOCOL}, {@code QIG_SASL_JAAS_CONFIG},
     * {@code QIG_SSL_TRUSTSTORE_LOCATION}, ...), the registry client's ({@code QIG_BASIC_AUTH_USER_INFO},
     * {@code QIG_BEARER_AUTH_TOKEN}, ...) and {@code moreKeys}. Other {@code QIG_*} variables are ignored.
     */
    public static Map<String, String> envKeys(ConfigDef definition, Collection<String> moreKeys) {
        Set<String> keys = new TreeSet<>(definition.names());
        keys.addAll(ServiceConfig.CLIENT_KEYS);
        keys.addAll(SchemaRegistries.CLIENT_KEYS);
        keys.addAll(moreKeys);
        Map<String, String> out = new HashMap<>();
        for (String key : keys) {
            out.put(envName(key), key);
        }
        return out;
    }

    private static Map<String, String> readProperties(Path file) {
        Properties props = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            props.load(r);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read config file " + file + ": " + e.getMessage(), e);
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (String name : props.stringPropertyNames()) {
            out.put(name, props.getProperty(name));
        }
        return out;
    }
}
