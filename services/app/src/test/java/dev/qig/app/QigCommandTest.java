package dev.qig.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
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
        for (String c : new String[] {"train", "eval", "calibrate", "bench", "attribution"}) {
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
}
