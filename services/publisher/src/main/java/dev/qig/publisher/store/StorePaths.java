package dev.qig.publisher.store;

/** Checks of the keys and file paths both stores turn into folder paths or object keys. */
final class StorePaths {

    /** The first segment of the temporary place in either store; no key may start with it. */
    static final String INCOMPLETE = ".incomplete";

    private StorePaths() {}

    /**
     * Returns {@code key} when it is a relative '/'-separated path without empty, "." or ".."
     * segments (so it cannot leave the root) and does not start in the temporary place.
     */
    static String checkKey(String key) {
        checkRelative("key", key);
        if (key.equals(INCOMPLETE) || key.startsWith(INCOMPLETE + "/")) {
            throw new IllegalArgumentException("key is in the temporary place: " + key);
        }
        return key;
    }

    /** Returns a checkpoint file's path when it is a relative '/'-separated path that stays inside its folder. */
    static String checkFile(String path) {
        checkRelative("file path", path);
        if (path.equals(Manifest.FILE)) {
            throw new IllegalArgumentException("a checkpoint file is named like the manifest: " + path);
        }
        return path;
    }

    private static void checkRelative(String what, String value) {
        if (value == null || value.isEmpty()) {
            throw new IllegalArgumentException(what + " is empty");
        }
        // Backslashes separate folders on Windows, and are not portable in object keys either.
        if (value.indexOf('\\') >= 0) {
            throw new IllegalArgumentException(what + " has a backslash: " + value);
        }
        for (String segment : value.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                throw new IllegalArgumentException(what + " must be a relative path without empty, '.' or '..' segments: " + value);
            }
        }
    }
}
