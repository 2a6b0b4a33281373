package dev.qig.publisher.store;

import dev.qig.core.export.ExportedCheckpoint;
import dev.qig.core.export.ExportedFile;
import dev.qig.core.export.ServingFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Small checkpoint folders for the store tests: files written into a folder and listed with their SHA-256s. */
final class TestCheckpoints {

    private TestCheckpoints() {}

    /** A checkpoint of three files, one in a subfolder, with bytes that depend on {@code seed}. */
    static ExportedCheckpoint small(Path folder, long seed) throws IOException {
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put("config.json", ("{\"seed\": " + seed + "}").getBytes());
        files.put("model.safetensors", random(300_000, seed));
        files.put("tokenizer/tokenizer.json", random(1_000, seed + 1));
        return write(folder, files);
    }

    /** Writes {@code files} (path to bytes) into {@code folder} and lists them. */
    static ExportedCheckpoint write(Path folder, Map<String, byte[]> files) throws IOException {
        List<ExportedFile> listed = new ArrayList<>();
        for (Map.Entry<String, byte[]> e : files.entrySet()) {
            Path file = folder.resolve(e.getKey());
            Files.createDirectories(file.getParent());
            Files.write(file, e.getValue());
            listed.add(new ExportedFile(e.getKey(), e.getValue().length, sha256(e.getValue())));
        }
        return new ExportedCheckpoint(folder, "test/model", "w4a16-g128", ServingFormat.PACK_QUANTIZED, listed);
    }

    static byte[] random(int size, long seed) {
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
