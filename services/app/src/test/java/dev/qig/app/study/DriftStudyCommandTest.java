package dev.qig.app.study;

import dev.qig.app.QigCommand;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.data.Domain;
import dev.qig.quant.Method;
import dev.qig.quant.QuantScheme;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class DriftStudyCommandTest {

    private static DriftStudyCommand parse(String... args) {
        CommandLine cmd = QigCommand.commandLine();
        String[] all = new String[args.length + 1];
        all[0] = "drift-study";
        System.arraycopy(args, 0, all, 1, args.length);
        CommandLine.ParseResult parsed = cmd.parseArgs(all);
        return (DriftStudyCommand) parsed.subcommand().commandSpec().userObject();
    }

    /** Runs the command; every bad input below must be refused before the model loads. */
    private static String[] run(String... args) {
        CommandLine cmd = QigCommand.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cmd.setOut(new PrintWriter(out));
        cmd.setErr(new PrintWriter(err));
        String[] all = new String[args.length + 1];
        all[0] = "drift-study";
        System.arraycopy(args, 0, all, 1, args.length);
        int code = cmd.execute(all);
        return new String[] {Integer.toString(code), out.toString(), err.toString()};
    }

    @Test
    void defaultsAreTheW4a4StudyOfBothDrifts() {
        DriftStudyCommand.Study s = parse().study();
        assertEquals(QuantScheme.W4A4, s.scheme());
        assertEquals(Domain.CLEAN, s.from());
        assertEquals(List.of(Domain.CLUTTERED, Domain.LOWLIGHT), s.to());
        assertEquals(List.of(Method.AWQ, Method.MBQ, Method.QIG), s.methods());
        assertEquals(128, s.samples());
        assertEquals(500, s.evalLimit());
        assertEquals(1, s.repeats());
        assertEquals(2026, s.seed());
        // the calibrate command keeps its own default
        CommandLine.ParseResult calibrate = QigCommand.commandLine().parseArgs("calibrate");
        assertEquals("w3a16", ((CalibrateCommand) calibrate.subcommand().commandSpec().userObject()).scheme.name);
    }

    @Test
    void parsesEveryOption() {
        DriftStudyCommand c = parse("--scheme", "w2a16", "--from", "qmix", "--to", "lowlight, clean,lowlight", "--methods",
                "qig,awq", "--samples", "32", "--eval-limit", "100", "--repeats", "2", "--seed", "7", "--ig-steps", "8",
                "--ig-rule", "endpoints", "--out", "/tmp/drift");
        DriftStudyCommand.Study s = c.study();
        assertEquals(QuantScheme.W2A16, s.scheme());
        assertEquals(Domain.QMIX, s.from());
        assertEquals(List.of(Domain.LOWLIGHT, Domain.CLEAN), s.to());
        assertEquals(List.of(Method.QIG, Method.AWQ), s.methods());
        assertEquals(32, s.samples());
        assertEquals(100, s.evalLimit());
        assertEquals(2, s.repeats());
        assertEquals(7, s.seed());
        assertEquals(8, c.ig.steps);
        assertEquals("endpoints", c.ig.rule);
        assertEquals(Path.of("/tmp/drift"), c.out);
        DriftStudyCommand gptq = parse("--scheme", "w3a16", "--methods", "gptq,qig-gptq", "--gptq-damp", "0.05",
                "--gptq-act-order");
        assertEquals(List.of(Method.GPTQ, Method.QIG_GPTQ), gptq.study().methods());
        assertEquals(0.05, gptq.gptq.damp);
        assertTrue(gptq.gptq.actOrder);
        // A static scheme's RTN calibrates its activation ranges, so it is a method of the study there.
        assertEquals(List.of(Method.RTN, Method.QIG), parse("--scheme", "w8a8-static", "--methods", "rtn,qig").study().methods());
    }

    @Test
    void rejectsBadOptionsWithOneClearLine() {
        String[][] cases = {
            {"--scheme", "w9a9"}, {"unknown scheme 'w9a9'"},
            {"--from", "space"}, {"clean"},
            {"--to", "clean"}, {"--to clean is the --from domain"},
            {"--to", ","}, {"--to needs at least one domain"},
            {"--methods", "awq,rtn"}, {"rtn needs no calibration"},
            {"--methods", "spqr"}, {"unknown method 'spqr'"},
            {"--samples", "0"}, {"--samples must be at least 1"},
            {"--eval-limit", "501"}, {"--eval-limit must be between 1 and 500"},
            {"--eval-limit", "0"}, {"--eval-limit must be between 1 and 500"},
            {"--repeats", "0"}, {"--repeats must be at least 1"},
        };
        for (int i = 0; i < cases.length; i += 2) {
            String[] r = run(cases[i]);
            assertEquals("2", r[0], String.join(" ", cases[i]) + ": " + r[2]);
            assertTrue(r[2].contains(cases[i + 1][0]) && r[2].strip().split("\n").length == 1,
                    String.join(" ", cases[i]) + ": " + r[2]);
        }
        String[] notANumber = run("--samples", "many");
        assertEquals("2", notANumber[0]);
        assertTrue(notANumber[2].contains("--samples"), notANumber[2]);
    }
}
