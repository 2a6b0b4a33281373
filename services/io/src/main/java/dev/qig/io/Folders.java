package dev.qig.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/** Deleting folder trees: what temporary exports and work folders need. */
public final class Folders {

    private Folders() {}

    /** Deletes {@code root} and everything under it; nothing when it does not exist. */
    public static void deleteTree(Path root) throws IOException {
        if (Files.exists(root)) {
            deleteUnder(root, true);
        }
    }

    /** Creates {@code dir} if absent and deletes everything in it; returns how many files it deleted. */
    public static int empty(Path dir) throws IOException {
        Files.createDirectories(dir);
        return deleteUnder(dir, false);
    }

    private static int deleteUnder(Path root, boolean withRoot) throws IOException {
        List<Path> all;
        try (Stream<Path> walk = Files.walk(root)) {
            all = walk.sorted(Comparator.reverseOrder()).toList(); // children before their folders
        }
        int files = 0;
        for (Path p : all) {
            if (p.equals(root) && !withRoot) {
                continue;
            }
            files += Files.isRegularFile(p) ? 1 : 0;
            Files.deleteIfExists(p);
        }
        return files;
    }
}
