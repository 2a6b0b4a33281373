package dev.qig.server;

import java.io.PrintStream;
import java.util.function.Supplier;

/**
 * A progress line for long work: redrawn in place on a terminal; in a log or a pipe, printed as a
 * new line only when it changed and at most every few seconds, so that captured output stays readable.
 */
public final class ProgressLine {

    private static final long LOG_INTERVAL_NANOS = 5_000_000_000L;

    private final PrintStream out;
    private final boolean terminal;
    private String last = "";
    private long lastPrinted;

    public ProgressLine(PrintStream out) {
        this.out = out;
        this.terminal = System.console() != null;
    }

    /** Shows the text if it changed (and, off a terminal, if enough time passed). */
    public void show(Supplier<String> text) {
        String s = text.get();
        if (s.equals(last)) {
            return;
        }
        long now = System.nanoTime();
        if (terminal) {
            out.print("\r" + s + " ".repeat(Math.max(0, last.length() - s.length())));
            out.flush();
        } else if (now - lastPrinted >= LOG_INTERVAL_NANOS) {
            out.println(s);
            lastPrinted = now;
        } else {
            return;
        }
        last = s;
    }

    /** Ends the progress: the final line replaces it on a terminal, follows it elsewhere. */
    public void done(String line) {
        out.println((terminal ? "\r" : "") + line + (terminal ? " ".repeat(Math.max(0, last.length() - line.length())) : ""));
        last = "";
        lastPrinted = 0;
    }
}
