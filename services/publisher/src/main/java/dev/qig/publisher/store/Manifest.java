package dev.qig.publisher.store;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.qig.core.export.ExportedFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Comparator;
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

    // Readers may be older than the writer: fields added later must not break them.
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    public Manifest {
        files = files.stream().sorted(Comparator.comparing(ExportedFile::path)).toList();
    }

    /** The manifest as the JSON document stored in {@value #FILE}. */
    public String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot encode the manifest of " + key, e);
        }
    }

    /** Reads a manifest written by {@link #toJson()}; throws when the text is not one. */
    public static Manifest fromJson(String json) throws IOException {
        Manifest manifest = JSON.readValue(json, Manifest.class);
        if (manifest.key() == null || manifest.contentHash() == null) {
            throw new IOException("a manifest without key or content hash");
        }
        return manifest;
    }
}
