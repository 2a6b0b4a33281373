package dev.qig.publisher.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.core.export.ExportedCheckpoint;
import dev.qig.core.export.ExportedFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FolderArtifactStoreTest {

    @TempDir
    Path root;

    @TempDir
    Path export;

    private static String keyOf(ExportedCheckpoint checkpoint) {
        return "sha256-0123456789abcdef/w4a16/qig/v3/" + checkpoint.contentHash();
    }

    @Test
    void committedReturnsTheManifestAndEveryFileRoundTrips() throws IOException {
        ExportedCheckpoint checkpoint = TestCheckpoints.small(export, 1);
        String key = keyOf(checkpoint);
        try (FolderArtifactStore store = new FolderArtifactStore(root, 0)) {
            assertEquals(Optional.empty(), store.committed(key));

            Manifest manifest = store.commit(key, checkpoint);

            assertEquals(new Manifest(key, checkpoint.contentHash(), checkpoint.files()), manifest);
            assertEquals(Optional.of(manifest), store.committed(key));
            Path folder = root.resolve(key);
            assertEquals(folder.toAbsolutePath().toString(), store.location(key));
            assertEquals(manifest, Manifest.fromJson(Files.readString(folder.resolve(Manifest.FILE))));
            for (ExportedFile f : checkpoint.files()) {
                byte[] stored = Files.readAllBytes(folder.resolve(f.path()));
                assertArrayEquals(Files.readAllBytes(export.resolve(f.path())), stored, f.path());
                assertEquals(f.sha256(), TestCheckpoints.sha256(stored), f.path());
            }
            assertEquals(List.of(), filesUnder(root.resolve(".incomplete")));
        }
    }

    @Test
    void committingTheSameCheckpointTwiceKeepsOneCopy() throws IOException {
        ExportedCheckpoint checkpoint = TestCheckpoints.small(export, 2);
        String key = keyOf(checkpoint);
        try (FolderArtifactStore store = new FolderArtifactStore(root, 0)) {
            Manifest first = store.commit(key, checkpoint);
            // Gone from the export, the files cannot be copied again: the second commit must see the first.
            for (ExportedFile f : checkpoint.files()) {
                Files.delete(export.resolve(f.path()));
            }

            assertEquals(first, store.commit(key, checkpoint));
            assertEquals(checkpoint.files().size() + 1, filesUnder(root.resolve(key)).size());
            assertEquals(List.of(), filesUnder(root.resolve(".incomplete")));
        }
    }

    @Test
    void anotherCheckpointUnderACommittedKeyIsRefused(@TempDir Path otherExport) throws IOException {
        ExportedCheckpoint checkpoint = TestCheckpoints.small(export, 3);
        ExportedCheckpoint other = TestCheckpoints.small(otherExport, 4);
        String key = keyOf(checkpoint);
        try (FolderArtifactStore store = new FolderArtifactStore(root, 0)) {
            Manifest manifest = store.commit(key, checkpoint);

            IOException e = assertThrows(IOException.class, () -> store.commit(key, other));
            assertTrue(e.getMessage().contains("another checkpoint"), e.getMessage());
            assertEquals(Optional.of(manifest), store.committed(key));
        }
    }

    @Test
    void anInterruptedCommitIsNotCommittedAndIsCleared() throws IOException {
        ExportedCheckpoint checkpoint = TestCheckpoints.small(export, 5);
        String key = keyOf(checkpoint);
        // A commit killed while copying: two files in the temporary place.
        Path temp = root.resolve(".incomplete/1f0c");
        Files.createDirectories(temp.resolve("tokenizer"));
        Files.copy(export.resolve("config.json"), temp.resolve("config.json"));
        Files.copy(export.resolve("tokenizer/tokenizer.json"), temp.resolve("tokenizer/tokenizer.json"));
        // An older commit killed after its files reached the key but before its manifest did.
        Path folder = root.resolve(key);
        Files.createDirectories(folder);
        Files.copy(export.resolve("config.json"), folder.resolve("config.json"));
        Files.writeString(folder.resolve("stray.bin"), "left by the interrupted commit");
        try (FolderArtifactStore store = new FolderArtifactStore(root, 0)) {
            assertEquals(Optional.empty(), store.committed(key));

            assertEquals(2, store.removeIncomplete());
            assertEquals(List.of(), filesUnder(root.resolve(".incomplete")));

            Manifest manifest = store.commit(key, checkpoint);
            assertEquals(Optional.of(manifest), store.committed(key));
            assertFalse(Files.exists(folder.resolve("stray.bin")));
        }
    }

    @Test
    void aManifestWhoseFilesAreNotAllThereIsNotCommitted() throws IOException {
        ExportedCheckpoint checkpoint = TestCheckpoints.small(export, 6);
        String key = keyOf(checkpoint);
        try (FolderArtifactStore store = new FolderArtifactStore(root, 0)) {
            store.commit(key, checkpoint);
            Path weights = root.resolve(key).resolve("model.safetensors");
            byte[] bytes = Files.readAllBytes(weights);
            Files.write(weights, Arrays.copyOf(bytes, bytes.length - 1));
            assertEquals(Optional.empty(), store.committed(key));

            Files.delete(weights);
            assertEquals(Optional.empty(), store.committed(key));

            // A commit repairs it.
            Manifest manifest = store.commit(key, checkpoint);
            assertEquals(Optional.of(manifest), store.committed(key));
            assertArrayEquals(bytes, Files.readAllBytes(weights));
        }
    }

    @Test
    void aFileThatDoesNotMatchItsSha256IsRefused() throws IOException {
        ExportedCheckpoint checkpoint = TestCheckpoints.small(export, 7);
        String key = keyOf(checkpoint);
        // The same size, one bit off: only the hash can tell.
        Path weights = export.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(weights);
        bytes[bytes.length / 2] ^= 1;
        Files.write(weights, bytes);
        try (FolderArtifactStore store = new FolderArtifactStore(root, 0)) {
            IOException e = assertThrows(IOException.class, () -> store.commit(key, checkpoint));

            assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
            assertEquals(Optional.empty(), store.committed(key));
            assertFalse(Files.exists(root.resolve(key)));
            assertEquals(List.of(), filesUnder(root.resolve(".incomplete")));
        }
    }

    @Test
    void aThrottledCommitCopiesTheSameBytes() throws IOException {
        ExportedCheckpoint checkpoint = TestCheckpoints.small(export, 8);
        String key = keyOf(checkpoint);
        try (FolderArtifactStore store = new FolderArtifactStore(root, 4L << 20)) {
            Manifest manifest = store.commit(key, checkpoint);

            assertEquals(Optional.of(manifest), store.committed(key));
            for (ExportedFile f : checkpoint.files()) {
                assertArrayEquals(Files.readAllBytes(export.resolve(f.path())), Files.readAllBytes(root.resolve(key).resolve(f.path())));
            }
        }
    }

    @Test
    void aCheckpointIsNeverCommittedInsideOrOverAnother(@TempDir Path otherExport) throws IOException {
        ExportedCheckpoint checkpoint = TestCheckpoints.small(export, 9);
        ExportedCheckpoint other = TestCheckpoints.small(otherExport, 10);
        try (FolderArtifactStore store = new FolderArtifactStore(root, 0)) {
            Manifest manifest = store.commit("models/a/b", checkpoint);

            assertThrows(IOException.class, () -> store.commit("models/a", other));
            assertThrows(IOException.class, () -> store.commit("models/a/b/c", other));
            assertEquals(Optional.of(manifest), store.committed("models/a/b"));
        }
    }

    @Test
    void keysThatLeaveTheRootOrEnterTheTemporaryPlaceAreRejected() throws IOException {
        try (FolderArtifactStore store = new FolderArtifactStore(root, 0)) {
            for (String key : List.of("", "/abs", "a//b", "a/", "../up", "a/../../up", "a/./b", ".incomplete/x", "a\\b")) {
                assertThrows(IllegalArgumentException.class, () -> store.committed(key), key);
                assertThrows(IllegalArgumentException.class, () -> store.location(key), key);
            }
        }
    }

    private static List<Path> filesUnder(Path folder) throws IOException {
        if (!Files.exists(folder)) {
            return List.of();
        }
        try (Stream<Path> walk = Files.walk(folder)) {
            return walk.filter(Files::isRegularFile).toList();
        }
    }
}
