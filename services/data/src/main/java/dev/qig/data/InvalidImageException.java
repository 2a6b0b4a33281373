package dev.qig.data;

/** Image bytes that cannot be decoded (corrupt, truncated, unsupported format) or would decode too large. */
public class InvalidImageException extends IllegalArgumentException {

    private final boolean oversize;

    public InvalidImageException(String message) {
        this(message, false);
    }

    /** @param oversize the image is well-formed but larger than the decoder expands (more pixels than allowed) */
    public InvalidImageException(String message, boolean oversize) {
        super(message);
        this.oversize = oversize;
    }

    public InvalidImageException(String message, Throwable cause) {
        super(message, cause);
        this.oversize = false;
    }

    /** Whether the image was refused for its size (a decompression bomb), not for its bytes. */
    public boolean oversize() {
        return oversize;
    }
}
