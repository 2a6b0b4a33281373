package dev.qig.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * A broken Hugging Face checkpoint folder ends a command at start with one line naming the file and
 * the key, and exit code 2: a missing shard, a tensor whose shape contradicts config.json, an
 * unknown model_type. The folders are copies of the CLIP + Llama golden fixture, each broken one way.
 */
class BadCheckpointTest {

    private static final Path FIXTURE = Path.of("..", "core", "src", "test", "resources", "hf-llava", "llava-clip-llama");

    @TempDir
    Path tmp;

    @Test
    void missingShard() throws IOException {
        Path dir = copy("missing-shard");
        Files.delete(dir.resolve("model-00002-of-00002.safetensors"));
        assertOneLine(dir, "model.safetensors.index.json", "model-00002-of-00002.safetensors, which is missing");
    }

    @Test
    void shapeThatContradictsTheConfig() throws IOException {
        Path dir = copy("wrong-shape");
        Path config = dir.resolve("config.json");
        Files.writeString(config, Files.readString(config).replace("\"intermediate_size\": 128", "\"intermediate_size\": 96"));
        assertOneLine(dir, "model-0000", "has shape [128, 64], but config.json gives [96, 64]");
    }

    @Test
    void unknownModelType() throws IOException {
        Path dir = copy("unknown-type");
        Path config = dir.resolve("config.json");
        Files.writeString(config, Files.readString(config).replace("\"model_type\": \"llava\"", "\"model_type\": \"llava_next\""));
        assertOneLine(dir, "config.json: model_type is 'llava_next'", "supported: llava");
    }

    private void assertOneLine(Path dir, String... parts) {
        CommandLine cmd = QigCommand.commandLine();
        StringWriter err = new StringWriter();
        cmd.setOut(new PrintWriter(new StringWriter()));
        cmd.setErr(new PrintWriter(err));
        int code = cmd.execute("eval", "--model", dir.toString(), "--limit", "1");
        String text = err.toString().strip();
        assertEquals(2, code, text);
        assertFalse(text.contains("\n"), "one line:\n" + text);
        assertFalse(text.contains("Exception"), "no stack trace:\n" + text);
        for (String part : parts) {
            assertTrue(text.contains(part), "'" + part + "' missing from: " + text);
        }
    }

    private Path copy(String name) throws IOException {
        Path dir = tmp.resolve(name);
        Files.createDirectories(dir);
        try (Stream<Path> files = Files.list(FIXTURE)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (Files.isRegularFile(f)) {
                    Files.copy(f, dir.resolve(f.getFileName()));
                }
            }
        }
        Files.writeString(dir.resolve("README.md"), "broken copy for a test\n", StandardCharsets.UTF_8);
        return dir;
    }
}
