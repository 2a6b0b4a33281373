package dev.qig.kafka.clients;

import java.util.Map;
import java.util.Optional;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.SslAuthenticationException;

/**
 * A Kafka client failure that retrying cannot fix: wrong credentials, a TLS handshake that fails, a
 * listener speaking another protocol than {@code security.protocol}. Kafka's clients retry such
 * failures (or log them per connection attempt) until a timeout; a service that meets one should end
 * instead, and its message is the one line that says what to change.
 */
public final class FatalKafkaException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public FatalKafkaException(String message) {
        super(message);
    }

    public FatalKafkaException(String message, Throwable cause) {
        super(message, cause);
    }

    /** The fatal failure in {@code failure} or its causes, or empty when the failure may pass (a broker down, a timeout). */
    public static Optional<FatalKafkaException> in(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof FatalKafkaException f) {
                return Optional.of(f);
            }
            if (t instanceof SslAuthenticationException) {
                return Optional.of(new FatalKafkaException("the TLS handshake with the broker failed (check "
                        + "ssl.truststore.* and the broker's certificate): " + rootMessage(t), t));
            }
            if (t instanceof AuthenticationException) {
                // Kafka's message names the mechanism ("invalid credentials with SASL mechanism SCRAM-SHA-512").
                return Optional.of(new FatalKafkaException("Kafka authentication failed: " + t.getMessage(), t));
            }
        }
        return Optional.empty();
    }

    static String protocol(Map<String, ?> clientProperties) {
        Object v = clientProperties.get("security.protocol");
        return v == null ? "PLAINTEXT" : v.toString().trim().toUpperCase(java.util.Locale.ROOT);
    }

    /** The innermost message: TLS failures wrap the reason (an untrusted certificate, a name mismatch) deep down. */
    private static String rootMessage(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage() == null ? t.getMessage() : root.getMessage();
    }
}
