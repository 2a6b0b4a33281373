package dev.qig.core.hf;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates the Hugging Face LLaVA golden fixtures: the copy in this module's test resources
 * ({@code src/test/resources/hf-llava}, taken unchanged from the project's shared fixtures, README
 * included), so every clone runs the golden tests; a {@code shared/fixtures/hf-llava} folder above
 * the working directory serves when the copy is absent.
 */
public final class HfFixtures {

    private static final Path RELATIVE = Path.of("shared", "fixtures", "hf-llava");
    private static final Path COPY = Path.of("src", "test", "resources", "hf-llava");

    private HfFixtures() {}

    /** The hf-llava folder, found by walking up from the working directory; skips the test if absent. */
    public static Path root() {
        Path start = Path.of("").toAbsolutePath();
        if (Files.isDirectory(start.resolve(COPY))) {
            return start.resolve(COPY);
        }
        for (Path dir = start; dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve(RELATIVE);
            if (Files.isDirectory(candidate)) {
                return candidate;
            }
        }
        assumeTrue(false, "HF golden fixtures not found: no " + RELATIVE + " in " + start + " or any parent");
        throw new AssertionError("unreachable");
    }

    /** One checkpoint folder under {@link #root()}, e.g. {@code llava-clip-llama}; fails if it is missing. */
    public static Path checkpoint(String name) {
        Path dir = root().resolve(name);
        if (!Files.isDirectory(dir)) {
            fail("fixture checkpoint folder missing: " + dir);
        }
        return dir;
    }
}
