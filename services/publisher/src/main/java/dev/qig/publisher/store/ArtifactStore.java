package dev.qig.publisher.store;

import dev.qig.core.export.ExportedCheckpoint;
import java.io.IOException;
import java.util.Optional;

/**
 * Where published checkpoints go: a folder (a mounted volume) or S3-compatible object storage.
 * A checkpoint is committed under a key atomically in effect: its files go to a temporary place
 * first and are moved under the key after; a manifest (every file's path, size and SHA-256) is
 * written last, so a key with a manifest always holds a complete checkpoint, and a reader or a
 * restarted publisher checks the manifest, never a listing.
 */
public interface ArtifactStore extends AutoCloseable {

    /** The location a checkpoint committed under {@code key} has, as users address it (a path, or s3://bucket/prefix/key). */
    String location(String key);

    /** The manifest of the checkpoint committed under {@code key}, or empty when there is none (or only an incomplete one). */
    Optional<Manifest> committed(String key) throws IOException;

    /**
     * Uploads every file of {@code checkpoint} to a temporary place, then commits it under
     * {@code key} and writes its manifest last. Committing the same content twice is harmless.
     *
     * @return the manifest written
     */
    Manifest commit(String key, ExportedCheckpoint checkpoint) throws IOException;

    /** Removes what interrupted uploads left in temporary places; returns how many files it removed. */
    int removeIncomplete() throws IOException;

    @Override
    void close() throws IOException;
}
