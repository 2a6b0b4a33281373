package dev.qig.publisher.store;

import dev.qig.io.Sha256;
import dev.qig.core.export.ExportedCheckpoint;
import dev.qig.core.export.ExportedFile;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * An {@link ArtifactStore} in a folder, typically a volume that vLLM mounts: a checkpoint committed
 * under {@code key} is the folder {@code root/key/}. A commit copies every file into
 * {@code root/.incomplete/<random>/}, fsyncs it, checks its SHA-256, writes the manifest last and
 * renames the folder to {@code root/key} in one atomic move, so {@code root/key} never holds part
 * of a checkpoint with a manifest. Only one publisher may run {@link #removeIncomplete()} on a root,
 * and only while it commits nothing, since it removes every commit in progress.
 */
public final class FolderArtifactStore implements ArtifactStore {

    private final Path root;
    private final long throttleBytesPerSecond;

    /**
     * @param root the folder checkpoints go to, created when missing
     * @param throttleBytesPerSecond the cap on the rate at which files are copied; 0 = none
     */
    public FolderArtifactStore(Path root, long throttleBytesPerSecond) {
        if (throttleBytesPerSecond < 0) {
            throw new IllegalArgumentException("a negative throttle: " + throttleBytesPerSecond);
        }
        this.root = root.toAbsolutePath().normalize();
        this.throttleBytesPerSecond = throttleBytesPerSecond;
    }

    @Override
    public String location(String key) {
        return folder(key).toString();
    }

    @Override
    public Optional<Manifest> committed(String key) throws IOException {
        Path folder = folder(key);
        Manifest manifest;
        try {
            manifest = Manifest.fromJson(Files.readString(folder.resolve(Manifest.FILE), StandardCharsets.UTF_8));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        if (!manifest.key().equals(key)) {
            throw new IOException("the manifest in " + folder + " names another key: " + manifest.key());
        }
        for (ExportedFile f : manifest.files()) {
            Path file = folder.resolve(StorePaths.checkFile(f.path()));
            if (!Files.isRegularFile(file) || Files.size(file) != f.size()) {
                return Optional.empty();
            }
        }
        return Optional.of(manifest);
    }

    @Override
    public Manifest commit(String key, ExportedCheckpoint checkpoint) throws IOException {
        Manifest manifest = new Manifest(key, checkpoint.contentHash(), checkpoint.files());
        Optional<Manifest> existing = sameOrNone(key, manifest);
        if (existing.isPresent()) {
            return existing.get();
        }
        Path temp = root.resolve(StorePaths.INCOMPLETE).resolve(UUID.randomUUID().toString());
        Throwable failure = null;
        try {
            Files.createDirectories(temp);
            for (ExportedFile f : checkpoint.files()) {
                copy(checkpoint.folder(), f, temp);
            }
            write(temp.resolve(Manifest.FILE), manifest.toJson().getBytes(StandardCharsets.UTF_8));
            syncFolders(temp);
            return publish(key, temp, manifest);
        } catch (Throwable t) {
            failure = t;
            throw t;
        } finally {
            removeTemp(temp, failure);
        }
    }

    @Override
    public int removeIncomplete() throws IOException {
        Path incomplete = root.resolve(StorePaths.INCOMPLETE);
        if (!Files.isDirectory(incomplete)) {
            return 0;
        }
        List<Path> commits;
        try (Stream<Path> list = Files.list(incomplete)) {
            commits = list.toList();
        }
        int files = 0;
        for (Path commit : commits) {
            files += deleteTree(commit);
        }
        return files;
    }

    @Override
    public void close() {}

    private Path folder(String key) {
        return root.resolve(StorePaths.checkKey(key));
    }

    /** The manifest committed under {@code key} when it is {@code manifest}'s content; throws when it is other content. */
    private Optional<Manifest> sameOrNone(String key, Manifest manifest) throws IOException {
        Optional<Manifest> existing = committed(key);
        if (existing.isPresent() && !existing.get().contentHash().equals(manifest.contentHash())) {
            throw new IOException(location(key) + " already holds another checkpoint: "
                    + existing.get().contentHash() + ", not " + manifest.contentHash());
        }
        return existing;
    }

    /** Renames the complete folder {@code temp} to {@code root/key}. */
    private Manifest publish(String key, Path temp, Manifest manifest) throws IOException {
        Path target = folder(key);
        Files.createDirectories(target.getParent());
        // Another publisher may have committed it while we copied.
        Optional<Manifest> existing = sameOrNone(key, manifest);
        if (existing.isPresent()) {
            return existing.get();
        }
        checkNotNested(key);
        // What is there is an interrupted commit (of an older version of this class) or files put there by hand.
        deleteTree(target);
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot rename within " + root + " atomically", e);
        } catch (FileSystemException e) {
            // Another publisher renamed its folder there in between.
            return sameOrNone(key, manifest).orElseThrow(() -> e);
        }
        syncFolder(target.getParent());
        return manifest;
    }

    /**
     * Throws when a checkpoint is committed in a folder above {@code root/key} or below it, which a
     * commit would pollute or delete. (A damaged checkpoint in {@code root/key} itself is replaced.)
     */
    private void checkNotNested(String key) throws IOException {
        Path target = folder(key);
        for (Path above = target.getParent(); !above.equals(root); above = above.getParent()) {
            if (Files.exists(above.resolve(Manifest.FILE))) {
                throw new IOException("cannot commit " + key + " inside the checkpoint in " + above);
            }
        }
        if (Files.isDirectory(target)) {
            try (Stream<Path> walk = Files.walk(target)) {
                Optional<Path> inner = walk
                        .filter(p -> p.getFileName().toString().equals(Manifest.FILE) && !p.getParent().equals(target))
                        .findFirst();
                if (inner.isPresent()) {
                    throw new IOException("cannot commit " + key + " over the checkpoint in " + inner.get().getParent());
                }
            }
        }
    }

    /** Copies one file of the checkpoint into {@code temp}, throttled, fsynced and checked against its size and SHA-256. */
    private void copy(Path from, ExportedFile f, Path temp) throws IOException {
        Path source = from.resolve(StorePaths.checkFile(f.path()));
        Path target = temp.resolve(f.path());
        Files.createDirectories(target.getParent());
        MessageDigest digest = Sha256.newDigest();
        long size = 0;
        byte[] buffer = new byte[1 << 16];
        try (InputStream in = ThrottledInputStream.wrap(Files.newInputStream(source), throttleBytesPerSecond);
                FileChannel out = FileChannel.open(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
                ByteBuffer bytes = ByteBuffer.wrap(buffer, 0, n);
                while (bytes.hasRemaining()) {
                    out.write(bytes);
                }
                size += n;
            }
            out.force(true);
        }
        String sha256 = Sha256.hex(digest);
        if (size != f.size() || !sha256.equals(f.sha256())) {
            throw new IOException(source + " does not match its listing: " + size + " bytes with SHA-256 " + sha256
                    + ", listed " + f.size() + " bytes with SHA-256 " + f.sha256());
        }
    }

    private static void write(Path file, byte[] bytes) throws IOException {
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            while (buffer.hasRemaining()) {
                out.write(buffer);
            }
            out.force(true);
        }
    }

    /** Fsyncs every folder under {@code top}, deepest first, so the names of the files fsynced survive a crash too. */
    private static void syncFolders(Path top) throws IOException {
        List<Path> folders;
        try (Stream<Path> walk = Files.walk(top)) {
            folders = new ArrayList<>(walk.filter(Files::isDirectory).toList());
        }
        folders.sort(Comparator.reverseOrder());
        for (Path folder : folders) {
            syncFolder(folder);
        }
    }

    private static void syncFolder(Path folder) throws IOException {
        try (FileChannel channel = FileChannel.open(folder, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            // Some file systems (and Windows) cannot open or fsync a folder; the files are fsynced all the same.
        }
    }

    /** Deletes a commit's temporary folder; a failure to is only worth a note on {@code failure}, since removeIncomplete clears what is left. */
    private static void removeTemp(Path temp, Throwable failure) {
        try {
            deleteTree(temp);
        } catch (IOException e) {
            if (failure != null) {
                failure.addSuppressed(e);
            }
        }
    }

    /** Deletes {@code top} and everything under it, if it exists; returns how many files it deleted. */
    private static int deleteTree(Path top) throws IOException {
        if (!Files.exists(top)) {
            return 0;
        }
        List<Path> paths;
        try (Stream<Path> walk = Files.walk(top)) {
            paths = new ArrayList<>(walk.toList());
        }
        paths.sort(Comparator.reverseOrder());
        int files = 0;
        for (Path p : paths) {
            if (!Files.isDirectory(p)) {
                files++;
            }
            Files.deleteIfExists(p);
        }
        return files;
    }
}
