package dev.qig.publisher.store;

import dev.qig.core.export.ExportedFile;
import java.util.List;

/**
 * The last file of a committed checkpoint ({@value #FILE}): its content hash and every file with its
 * size and SHA-256.
 *
 * @param key the key it was committed under
 * @param contentHash {@link dev.qig.core.export.ExportedCheckpoint#contentHash()}
 * @param files every file but the manifest, sorted by path
 */
public record Manifest(String key, String contentHash, List<ExportedFile> files) {

    /** The manifest's file name under the key. */
    public static final String FILE = "qig-manifest.json";
}
