package dev.qig.io;

import java.io.IOException;

/**
 * A safetensors file is malformed: bad header length, invalid JSON, unknown dtype, inconsistent
 * shape/offsets, or data that does not exactly cover the byte buffer.
 *
 * <p>It extends {@link IOException} (like {@link java.util.zip.ZipException}) because a corrupt file
 * is a property of the input, not a programming error, and callers of
 * {@link SafetensorsReader#open} already handle {@code IOException}.
 */
public class SafetensorsFormatException extends IOException {

    public SafetensorsFormatException(String message) {
        super(message);
    }

    public SafetensorsFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
