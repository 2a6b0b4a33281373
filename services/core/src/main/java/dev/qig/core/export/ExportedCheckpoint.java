package dev.qig.core.export;

import java.nio.charset.StandardCharsets;
import dev.qig.io.Sha256;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;

/**
 * A checkpoint folder written by {@link CheckpointExporter}: where it is, what it holds, and every
 * file with its size and SHA-256.
 *
 * @param folder the folder written
 * @param modelId the id of the model it was exported from
 * @param configId the id of the config applied
 * @param format how its quantized linears are stored
 * @param files every file, sorted by path
 */
public record ExportedCheckpoint(Path folder, String modelId, String configId, ServingFormat format, List<ExportedFile> files) {

    public ExportedCheckpoint {
        files = files.stream().sorted(Comparator.comparing(ExportedFile::path)).toList();
    }

    /** Bytes of every file. */
    public long totalBytes() {
        return files.stream().mapToLong(ExportedFile::size).sum();
    }

    /**
     * The checkpoint's content hash: {@code sha256-} and 16 hex digits of a SHA-256 over the lines
     * "path size sha256" of its files in path order. Two exports with the same bytes share it.
     */
    public String contentHash() {
        MessageDigest sha = Sha256.newDigest();
        for (ExportedFile f : files) {
            sha.update((f.path() + " " + f.size() + " " + f.sha256() + "\n").getBytes(StandardCharsets.UTF_8));
        }
        return "sha256-" + HexFormat.of().formatHex(sha.digest(), 0, 8);
    }
}
