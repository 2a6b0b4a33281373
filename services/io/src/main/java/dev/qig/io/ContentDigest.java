package dev.qig.io;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * The content hash that names a model ({@code sha256-} and 16 hex digits): every part is preceded
 * by its name and length, so that no two models hash alike by moving bytes from one part to another.
 */
public final class ContentDigest {

    private final MessageDigest sha;

    public ContentDigest() {
        sha = Sha256.newDigest();
    }

    /** A named file's bytes. */
    public ContentDigest file(String name, byte[] bytes) {
        sha.update((name + "\n" + bytes.length + "\n").getBytes(StandardCharsets.UTF_8));
        sha.update(bytes);
        return this;
    }

    /** A tensor: its name, dtype, shape and bytes (not where or how it was stored). */
    public ContentDigest tensor(TensorData t) {
        sha.update((t.name() + "\n" + t.dtype() + "\n" + Arrays.toString(t.shape()) + "\n" + t.byteSize() + "\n")
                .getBytes(StandardCharsets.UTF_8));
        sha.update(t.data());
        return this;
    }

    public String id() {
        return "sha256-" + HexFormat.of().formatHex(sha.digest(), 0, 8);
    }
}
