package dev.qig.app;

import dev.qig.server.ServiceCommands;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.kafka.config.ConfigDocs;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * docs/configuration.md holds every service's settings exactly as `qig config SERVICE` prints them
 * from the code's definitions, so the documentation cannot drift from the code.
 */
class ConfigurationDocsTest {

    @Test
    void theConfigurationReferenceIsGeneratedFromTheCode() throws Exception {
        Path doc = Path.of("../../docs/configuration.md");
        String text = Files.readString(doc, StandardCharsets.UTF_8);
        for (String service : new String[] {"ingest", "attributor", "aggregator", "evaluator", "publisher"}) {
            String table = ConfigDocs.markdown(ServiceCommands.ConfigCommand.definition(service));
            assertTrue(text.contains(table), "docs/configuration.md lacks the current table of " + service
                    + "; regenerate it with ./qig config " + service + "\n" + table);
        }
    }
}
