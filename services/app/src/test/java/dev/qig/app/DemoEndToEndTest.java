package dev.qig.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.schemas.DriftEvent;
import dev.qig.schemas.EvalResult;
import dev.qig.schemas.QuantConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code qig demo} with small sizes, end to end on a real in-process broker with the shipped model:
 * a drift is confirmed after the domain switch (not before), the configs of every method are
 * evaluated on both domains, something is promoted, and every sample streamed is accounted for.
 */
class DemoEndToEndTest {

    @Test
    void theDemoDetectsTheDomainSwitchReQuantizesAndEvaluatesEveryConfig() {
        CommandLine cmd = QigCommand.commandLine();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream saved = System.out;
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            code = cmd.execute("demo", "--samples", "16", "--rounds-per-domain", "2", "--eval-limit", "20",
                    "--domains", "clean,cluttered");
        } finally {
            System.setOut(saved);
        }
        String printed = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, printed);
        DemoCommand.Result r = ((DemoCommand) cmd.getSubcommands().get("demo").getCommandSpec().userObject()).result;

        // Every sample streamed was attributed and summed: every round closed by count, nothing dead-lettered.
        assertEquals(4, r.rows().size());
        assertEquals(r.ingested(), r.attributed(), printed);
        assertTrue(r.deadLetters().isEmpty(), "dead letters: " + r.deadLetters());

        // Drift: confirmed after the switch to cluttered (round 3 on), never while clean streamed.
        assertTrue(!r.driftEvents().isEmpty(), "no drift event:\n" + printed);
        for (DriftEvent d : r.driftEvents()) {
            assertTrue(d.getRound() >= 3, "a drift confirmed in round " + d.getRound() + " while clean streamed:\n" + printed);
            assertTrue(d.getDomains().containsKey("cluttered"), "the drifted round holds cluttered samples");
        }

        // The initial calibration and the re-calibration after the drift, every method each time.
        Set<Long> calibrationRounds = r.configs().stream().map(QuantConfig::getRound).collect(Collectors.toSet());
        assertTrue(calibrationRounds.contains(2L), "initial calibration in round 2: " + calibrationRounds);
        assertTrue(calibrationRounds.stream().anyMatch(x -> x > r.driftEvents().get(0).getRound()),
                "re-calibration after the drift: " + calibrationRounds);
        for (long round : calibrationRounds) {
            Set<String> methods = r.configs().stream().filter(c -> c.getRound() == round).map(QuantConfig::getMethod)
                    .collect(Collectors.toSet());
            assertEquals(Set.of("rtn", "awq", "mbq", "qig"), methods, "round " + round);
        }

        // Every config evaluated on both domains, with sensible numbers and a paired comparison.
        Set<String> evaluated = new HashSet<>();
        for (EvalResult e : r.evaluations()) {
            evaluated.add(e.getConfigId() + "@" + e.getDomain());
            assertTrue(e.getAccuracy() >= 0 && e.getAccuracy() <= 1, "accuracy in [0, 1]");
            assertTrue(e.getKlToFullPrecision() >= 0 && Double.isFinite(e.getKlToFullPrecision()), "finite, non-negative KL");
            assertEquals(20, e.getQuestions());
            assertTrue(e.getVsFullPrecision() != null, "paired comparison with full precision");
        }
        for (QuantConfig c : r.configs()) {
            for (String domain : List.of("clean", "cluttered")) {
                assertTrue(evaluated.contains(c.getConfigId() + "@" + domain), c.getConfigId() + " on " + domain);
            }
        }
        assertTrue(!r.promotions().isEmpty(), "a config was promoted:\n" + printed);
        assertTrue(printed.contains("| round | domain | plan |"), "the final table is printed");
    }
}
