package dev.qig.kafka.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A JVM with the test's own classpath, engine settings ({@code ai.djl.*}) and log settings
 * ({@code org.slf4j.*}), running a main class with the given arguments, its output appended to a log
 * file: how the tests that kill a service with SIGKILL start it.
 */
public final class ChildJvm {

    private ChildJvm() {}

    /**
     * @param jvmOptions extra options (e.g. a log level for one logger)
     */
    public static Process start(Class<?> main, Path log, List<String> jvmOptions, String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xmx1g");
        // Its temporary files go where the test's own files go.
        Path tmp = Files.createDirectories(log.resolveSibling("child-tmp"));
        command.add("-Djava.io.tmpdir=" + tmp);
        System.getProperties().forEach((k, v) -> {
            String key = k.toString();
            if (key.startsWith("ai.djl.") || key.startsWith("org.slf4j.")) {
                command.add("-D" + key + "=" + v);
            }
        });
        command.addAll(jvmOptions);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(main.getName());
        command.addAll(List.of(args));
        Files.writeString(log, "", StandardCharsets.UTF_8);
        return new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    }

    /**
     * Waits (up to five minutes) until {@code moment} holds, then kills the child with SIGKILL (no
     * shutdown hook, no cleanup) and waits for it to be gone. Fails, with the child's log, when the
     * child dies first or the moment does not come.
     */
    public static void killWhen(Process child, Path log, java.util.concurrent.Callable<Boolean> moment, String what)
            throws Exception {
        try {
            long deadline = System.currentTimeMillis() + 300_000;
            while (!moment.call()) {
                org.junit.jupiter.api.Assertions.assertTrue(child.isAlive(), "the child died before " + what + ":\n"
                        + Files.readString(log));
                org.junit.jupiter.api.Assertions.assertTrue(System.currentTimeMillis() < deadline, "no " + what + ":\n"
                        + Files.readString(log));
                Thread.sleep(20);
            }
            child.destroyForcibly();
            org.junit.jupiter.api.Assertions.assertTrue(child.waitFor(60, java.util.concurrent.TimeUnit.SECONDS),
                    "the child did not die");
        } finally {
            if (child.isAlive()) {
                child.destroyForcibly();
            }
        }
    }
}
