package dev.qig.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class QigCommandTest {

    private static String[] run(String... args) {
        CommandLine cmd = QigCommand.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cmd.setOut(new PrintWriter(out));
        cmd.setErr(new PrintWriter(err));
        int code = cmd.execute(args);
        return new String[] {Integer.toString(code), out.toString(), err.toString()};
    }

    @Test
    void everyCommandIsListedInTheHelp() {
        String[] r = run("--help");
        assertEquals("0", r[0]);
        for (String c : new String[] {"demo", "train", "eval", "calibrate", "drift-study", "bench", "attribution", "stream",
            "ingest", "attributor", "aggregator", "evaluator", "publisher", "config", "checkpoint", "export"}) {
            assertTrue(r[1].contains(c), c + " missing from\n" + r[1]);
        }
    }

    @Test
    void badInputEndsWithOneClearLineAndExitCodeTwo() {
        String[] scheme = run("calibrate", "--scheme", "w9a9");
        assertEquals("2", scheme[0]);
        assertTrue(scheme[2].contains("unknown scheme 'w9a9'") && scheme[2].contains("w3a16"), scheme[2]);
        String[] model = run("eval", "--model", "/nonexistent/model", "--limit", "1");
        assertEquals("2", model[0]);
        assertTrue(model[2].contains("no model at /nonexistent/model"), model[2]);
        String[] domain = run("attribution", "--domain", "space");
        assertEquals("2", domain[0]);
        assertTrue(domain[2].contains("clean"), domain[2]);
    }

    @Test
    void exportWritesAServableCheckpointAndRefusesAnUnservableSchemeInOneLine(@TempDir Path tmp) throws Exception {
        String fixture = Path.of("..", "core", "src", "test", "resources", "hf-llava", "llava-siglip-qwen2").toString();
        String[] refused = run("export", "--model", fixture, "--config", "rtn:w3a16", "--out", tmp.resolve("w3").toString());
        assertEquals("2", refused[0]);
        assertEquals(1, refused[2].strip().lines().count(), refused[2]);
        assertTrue(refused[2].startsWith("qig export: scheme w3a16 has no serving format"), refused[2]);
        assertFalse(Files.exists(tmp.resolve("w3").resolve("model.safetensors")), "nothing written for a refused scheme");

        String[] done = run("export", "--model", fixture, "--config", "rtn:w8a8", "--out", tmp.resolve("w8").toString());
        assertEquals("0", done[0], done[2]);
        var config = new com.fasterxml.jackson.databind.ObjectMapper().readTree(tmp.resolve("w8").resolve("config.json").toFile());
        assertEquals("int-quantized", config.path("quantization_config").path("format").asText());
        assertTrue(Files.isRegularFile(tmp.resolve("w8").resolve("qig-export.json")));
    }

    @Test
    void configPrintsEverySettingOfAService() {
        String[] r = run("config", "attributor");
        assertEquals("0", r[0]);
        for (String key : new String[] {"bootstrap.servers", "schema.registry.url", "models", "batch.size", "topic.samples"}) {
            assertTrue(r[1].contains("`" + key + "`"), key + " missing from\n" + r[1]);
        }
        assertTrue(r[1].contains("QIG_BOOTSTRAP_SERVERS"), r[1]);
        String[] evaluator = run("config", "evaluator");
        assertEquals("0", evaluator[0]);
        for (String key : new String[] {"promotion.margin", "promotion.confidence", "promotion.max.loss.vs.fp32",
            "eval.source", "device", "topic.active.configs"}) {
            assertTrue(evaluator[1].contains("`" + key + "`"), key + " missing from\n" + evaluator[1]);
        }
        String[] unknown = run("config", "evaluatorx");
        assertEquals("2", unknown[0]);
        assertTrue(unknown[2].contains("unknown service 'evaluatorx'"), unknown[2]);
    }

    @Test
    void aServiceWithABadSettingEndsWithOneClearLine() {
        String[] r = run("aggregator", "--set", "bootstrap.servers=127.0.0.1:1", "--set", "schema.registry.url=mock://t",
                "--set", "round.samples=0");
        assertEquals("2", r[0]);
        assertTrue(r[2].contains("round.samples") && r[2].split("\n").length == 1, r[2]);
        String[] margin = run("evaluator", "--set", "bootstrap.servers=127.0.0.1:1", "--set", "schema.registry.url=mock://t",
                "--set", "promotion.margin=-0.1");
        assertEquals("2", margin[0]);
        assertTrue(margin[2].contains("promotion.margin") && margin[2].split("\n").length == 1, margin[2]);
        String[] missing = run("attributor", "--set", "schema.registry.url=mock://t");
        assertEquals("2", missing[0]);
        assertTrue(missing[2].contains("bootstrap.servers"), missing[2]);
    }
}
