package dev.qig.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A checkpoint folder this project cannot load as it stands: one line naming the file and, where
 * there is one, the key (a config key or a tensor name), so a user can fix it without a stack trace.
 */
public final class CheckpointException extends IOException {

    private final Path file;
    private final String key;

    public CheckpointException(Path file, String key, String problem) {
        super(file + (key == null ? "" : ": " + key) + " " + problem);
        this.file = file;
        this.key = key;
    }

    /** The file at fault. */
    public Path file() {
        return file;
    }

    /** The config key or tensor name at fault, or null when the whole file is. */
    public String key() {
        return key;
    }
}
