package dev.qig.kafka.dlq;

/** A record that cannot be processed, with the reason that goes to its dead letter. */
public class RejectedRecordException extends RuntimeException {

    private final RejectReason reason;

    public RejectedRecordException(RejectReason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public RejectedRecordException(RejectReason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public RejectReason reason() {
        return reason;
    }
}
