package dev.qig.kafka.config;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.kafka.common.config.ConfigDef;

/** The configuration reference of a service as a Markdown table, generated from its {@link ConfigDef}. */
public final class ConfigDocs {

    private ConfigDocs() {}

    /**
     * One row per key, most important first: key, environment variable, type, default, valid
     * values, description.
     */
    public static String markdown(ConfigDef definition) {
        List<ConfigDef.ConfigKey> keys = new ArrayList<>(definition.configKeys().values());
        keys.sort(Comparator.comparing((ConfigDef.ConfigKey k) -> k.importance).thenComparing(k -> k.name));
        StringBuilder sb = new StringBuilder();
        sb.append("| key | environment | type | default | valid values | description |\n");
        sb.append("|---|---|---|---|---|---|\n");
        for (ConfigDef.ConfigKey k : keys) {
            sb.append("| `").append(k.name).append("` | `").append(ConfigSources.envName(k.name)).append("` | ")
                    .append(k.type.name().toLowerCase(java.util.Locale.ROOT)).append(" | ")
                    .append(defaultValue(k)).append(" | ")
                    .append(k.validator == null ? "" : cell(k.validator.toString())).append(" | ")
                    .append(cell(k.documentation)).append(" |\n");
        }
        return sb.toString();
    }

    private static String defaultValue(ConfigDef.ConfigKey k) {
        if (!k.hasDefault()) {
            return "(required)";
        }
        Object v = k.defaultValue;
        if (v == null) {
            return "null";
        }
        String s = v instanceof List<?> list ? String.join(",", list.stream().map(String::valueOf).toList()) : String.valueOf(v);
        return s.isEmpty() ? "\"\"" : "`" + s + "`";
    }

    private static String cell(String s) {
        return s.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;");
    }
}
