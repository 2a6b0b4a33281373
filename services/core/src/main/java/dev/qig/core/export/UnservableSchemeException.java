package dev.qig.core.export;

/** A scheme that no serving engine loads, refused by the exporter; the message is one line naming the formats there are. */
public final class UnservableSchemeException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public UnservableSchemeException(String message) {
        super(message);
    }
}
