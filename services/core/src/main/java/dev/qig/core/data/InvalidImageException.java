package dev.qig.core.data;

/** Image bytes that cannot be decoded (corrupt, truncated, unsupported format or oversized). */
public class InvalidImageException extends IllegalArgumentException {

    public InvalidImageException(String message) {
        super(message);
    }

    public InvalidImageException(String message, Throwable cause) {
        super(message, cause);
    }
}
