package dev.qig.kafka.registry;

/**
 * A Schema Registry call failed. Carries the HTTP status and Confluent's {@code error_code} when
 * the registry answered, so that callers can tell "not found" (404) and "incompatible" (409) from
 * an unreachable registry ({@link #NONE}). Messages never contain credentials.
 */
public class SchemaRegistryException extends RuntimeException {

    /** Status or error code value when there is none (no HTTP answer, or no error body). */
    public static final int NONE = -1;

    private final int status;
    private final int errorCode;

    public SchemaRegistryException(String message, int status, int errorCode, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.errorCode = errorCode;
    }

    public SchemaRegistryException(String message, int status, int errorCode) {
        this(message, status, errorCode, null);
    }

    /** HTTP status of the registry's answer, or {@link #NONE} when no answer came. */
    public int status() {
        return status;
    }

    /** Confluent {@code error_code} (e.g. 40403 schema not found), or {@link #NONE}. */
    public int errorCode() {
        return errorCode;
    }

    /** True for a 404: unknown schema id, subject or version. */
    public boolean isNotFound() {
        return status == 404;
    }
}
