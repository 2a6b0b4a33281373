package dev.qig.publisher.store;

import dev.qig.io.Sha256;
import dev.qig.core.export.ExportedCheckpoint;
import dev.qig.core.export.ExportedFile;
import java.io.Closeable;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.ContentStreamProvider;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.MultipartUpload;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * An {@link ArtifactStore} in an S3 bucket (AWS or any S3-compatible server): a checkpoint committed
 * under {@code key} is the objects {@code <prefix>/<key>/<path>} and the manifest
 * {@code <prefix>/<key>/}{@value Manifest#FILE}. A commit checks every file's SHA-256, uploads the
 * files to {@code <prefix>/.incomplete/<random>/}, copies them server-side under the key, writes the
 * manifest last and deletes the temporary objects. Object storage has no atomic rename: until the
 * manifest is there, the key may hold some files, which {@link #committed} does not report. Every
 * object carries its SHA-256 in its metadata ({@code x-amz-meta-sha256}).
 */
public final class S3ArtifactStore implements ArtifactStore {

    private static final Logger LOG = LoggerFactory.getLogger(S3ArtifactStore.class);

    /** Files above this size are uploaded in parts of (at least) this size. */
    static final long MULTIPART_UPLOAD_ABOVE = 64L << 20;
    /** S3 copies at most 5 GiB with one CopyObject; larger objects are copied in parts of up to 5 GiB (UploadPartCopy). */
    static final long COPY_LIMIT = 5L << 30;
    /** S3's limit on the parts of a multipart upload. */
    private static final int MAX_PARTS = 10_000;
    /** The user metadata key of an object's SHA-256, sent as {@code x-amz-meta-sha256}. */
    static final String SHA256_METADATA = "sha256";
    private static final String OCTET_STREAM = "application/octet-stream";

    private final S3Settings settings;
    private final S3Client s3;
    private final long uploadPartSize;
    private final long copyPartSize;

    /** A store writing where {@code settings} say, with S3's multipart limits. */
    public S3ArtifactStore(S3Settings settings) {
        this(settings, MULTIPART_UPLOAD_ABOVE, COPY_LIMIT);
    }

    /** A store with smaller multipart thresholds, so that tests exercise multipart uploads and copies with small files. */
    S3ArtifactStore(S3Settings settings, long uploadPartSize, long copyPartSize) {
        this.settings = settings;
        this.s3 = client(settings);
        this.uploadPartSize = uploadPartSize;
        this.copyPartSize = copyPartSize;
    }

    private static S3Client client(S3Settings settings) {
        S3ClientBuilder builder = S3Client.builder()
                // The JDK's HttpURLConnection: the SDK would otherwise pick whichever client the class path holds.
                .httpClientBuilder(UrlConnectionHttpClient.builder())
                .forcePathStyle(settings.pathStyle())
                // The SDK's default CRC32 trailers and x-amz-checksum-mode are not implemented by S3-compatible
                // servers such as S3Proxy or older MinIO and Ceph; the SHA-256 of every file is checked before upload.
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
        if (settings.endpoint() != null && !settings.endpoint().isEmpty()) {
            builder.endpointOverride(URI.create(settings.endpoint()));
        }
        if (settings.region() != null && !settings.region().isEmpty()) {
            builder.region(Region.of(settings.region()));
        }
        if (settings.accessKeyId() != null) {
            builder.credentialsProvider(StaticCredentialsProvider.create(
                    AwsBasicCredentials.create(settings.accessKeyId(), settings.secretAccessKey())));
        }
        return builder.build();
    }

    @Override
    public String location(String key) {
        String folder = folder(key);
        return "s3://" + settings.bucket() + "/" + folder.substring(0, folder.length() - 1);
    }

    @Override
    public Optional<Manifest> committed(String key) throws IOException {
        String folder = folder(key);
        try {
            String json;
            try {
                json = s3.getObjectAsBytes(b -> b.bucket(settings.bucket()).key(folder + Manifest.FILE)).asUtf8String();
            } catch (NoSuchKeyException e) {
                return Optional.empty();
            }
            Manifest manifest = Manifest.fromJson(json);
            if (!manifest.key().equals(key)) {
                throw new IOException("the manifest in " + location(key) + " names another key: " + manifest.key());
            }
            for (ExportedFile f : manifest.files()) {
                Optional<HeadObjectResponse> head = head(folder + StorePaths.checkFile(f.path()));
                if (head.isEmpty() || head.get().contentLength() != f.size()) {
                    return Optional.empty();
                }
            }
            return Optional.of(manifest);
        } catch (SdkException e) {
            throw new IOException("cannot read " + location(key) + ": " + e.getMessage(), e);
        }
    }

    @Override
    public Manifest commit(String key, ExportedCheckpoint checkpoint) throws IOException {
        Manifest manifest = new Manifest(key, checkpoint.contentHash(), checkpoint.files());
        String folder = folder(key);
        Optional<Manifest> existing = committed(key);
        if (existing.isPresent()) {
            if (!existing.get().contentHash().equals(manifest.contentHash())) {
                throw new IOException(location(key) + " already holds another checkpoint: "
                        + existing.get().contentHash() + ", not " + manifest.contentHash());
            }
            return existing.get();
        }
        // Before any upload: a bad file must leave nothing behind, not even temporary objects.
        for (ExportedFile f : checkpoint.files()) {
            verify(checkpoint.folder(), f);
        }
        String temp = incomplete() + UUID.randomUUID() + "/";
        List<String> uploaded = new ArrayList<>();
        Throwable failure = null;
        try {
            for (ExportedFile f : checkpoint.files()) {
                upload(checkpoint.folder().resolve(f.path()), temp + f.path(), f);
                uploaded.add(temp + f.path());
            }
            for (ExportedFile f : checkpoint.files()) {
                copy(temp + f.path(), folder + f.path(), f);
            }
            s3.putObject(b -> b.bucket(settings.bucket()).key(folder + Manifest.FILE).contentType("application/json"),
                    RequestBody.fromString(manifest.toJson(), StandardCharsets.UTF_8));
            return manifest;
        } catch (SdkException | UncheckedIOException e) {
            IOException io = new IOException("cannot commit " + location(key) + ": " + e.getMessage(), e);
            failure = io;
            throw io;
        } catch (Throwable t) {
            failure = t;
            throw t;
        } finally {
            deleteTemporary(uploaded, failure);
        }
    }

    @Override
    public int removeIncomplete() throws IOException {
        try {
            int removed = 0;
            for (S3Object o : s3.listObjectsV2Paginator(b -> b.bucket(settings.bucket()).prefix(incomplete())).contents()) {
                s3.deleteObject(b -> b.bucket(settings.bucket()).key(o.key()));
                removed++;
            }
            // The parts of an interrupted multipart upload are kept (and billed) until it is aborted.
            for (MultipartUpload u : s3.listMultipartUploadsPaginator(b -> b.bucket(settings.bucket()).prefix(incomplete())).uploads()) {
                s3.abortMultipartUpload(b -> b.bucket(settings.bucket()).key(u.key()).uploadId(u.uploadId()));
            }
            return removed;
        } catch (SdkException e) {
            throw new IOException("cannot remove s3://" + settings.bucket() + "/" + incomplete() + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        s3.close();
    }

    /** The key prefix of the objects under {@code key}, ending in '/'. */
    private String folder(String key) {
        StorePaths.checkKey(key);
        return settings.prefix().isEmpty() ? key + "/" : settings.prefix() + "/" + key + "/";
    }

    private String incomplete() {
        return settings.prefix().isEmpty() ? StorePaths.INCOMPLETE + "/" : settings.prefix() + "/" + StorePaths.INCOMPLETE + "/";
    }

    private Optional<HeadObjectResponse> head(String objectKey) {
        try {
            return Optional.of(s3.headObject(b -> b.bucket(settings.bucket()).key(objectKey)));
        } catch (NoSuchKeyException e) {
            return Optional.empty();
        } catch (S3Exception e) {
            // A HEAD response has no body, so some servers' 404 reaches the SDK without the NoSuchKey code.
            if (e.statusCode() == 404) {
                return Optional.empty();
            }
            throw e;
        }
    }

    private static void verify(Path folder, ExportedFile f) throws IOException {
        Path file = folder.resolve(StorePaths.checkFile(f.path()));
        long size = Files.size(file);
        String sha256 = Sha256.of(file);
        if (size != f.size() || !sha256.equals(f.sha256())) {
            throw new IOException(file + " does not match its listing: " + size + " bytes with SHA-256 " + sha256
                    + ", listed " + f.size() + " bytes with SHA-256 " + f.sha256());
        }
    }

    private void upload(Path file, String objectKey, ExportedFile f) {
        Map<String, String> metadata = Map.of(SHA256_METADATA, f.sha256());
        if (f.size() <= uploadPartSize) {
            try (FileRange body = new FileRange(file, 0, f.size())) {
                s3.putObject(b -> b.bucket(settings.bucket()).key(objectKey).metadata(metadata).contentType(OCTET_STREAM),
                        RequestBody.fromContentProvider(body, f.size(), OCTET_STREAM));
            }
            return;
        }
        multipart(objectKey, metadata, f.size(), uploadPartSize, (uploadId, part, offset, length) -> {
            try (FileRange body = new FileRange(file, offset, length)) {
                return s3.uploadPart(b -> b.bucket(settings.bucket()).key(objectKey).uploadId(uploadId)
                                .partNumber(part).contentLength(length),
                        RequestBody.fromContentProvider(body, length, OCTET_STREAM)).eTag();
            }
        });
    }

    private void copy(String from, String to, ExportedFile f) {
        if (f.size() <= copyPartSize) {
            // CopyObject keeps the source's metadata, the SHA-256 with it.
            s3.copyObject(b -> b.sourceBucket(settings.bucket()).sourceKey(from)
                    .destinationBucket(settings.bucket()).destinationKey(to));
            return;
        }
        multipart(to, Map.of(SHA256_METADATA, f.sha256()), f.size(), copyPartSize, (uploadId, part, offset, length) ->
                s3.uploadPartCopy(b -> b.sourceBucket(settings.bucket()).sourceKey(from)
                        .destinationBucket(settings.bucket()).destinationKey(to).uploadId(uploadId).partNumber(part)
                        .copySourceRange("bytes=" + offset + "-" + (offset + length - 1))).copyPartResult().eTag());
    }

    /** Writes one part of a multipart upload; returns its ETag. */
    private interface PartWriter {
        String write(String uploadId, int part, long offset, long length);
    }

    /** Writes {@code objectKey} in parts of at least {@code minPartSize}, aborting the upload when a part fails. */
    private void multipart(String objectKey, Map<String, String> metadata, long size, long minPartSize, PartWriter writer) {
        long partSize = Math.max(minPartSize, (size + MAX_PARTS - 1) / MAX_PARTS);
        String uploadId = s3.createMultipartUpload(b -> b.bucket(settings.bucket()).key(objectKey)
                .metadata(metadata).contentType(OCTET_STREAM)).uploadId();
        try {
            List<CompletedPart> parts = new ArrayList<>();
            for (long offset = 0; offset < size; offset += partSize) {
                int part = parts.size() + 1;
                String eTag = writer.write(uploadId, part, offset, Math.min(partSize, size - offset));
                parts.add(CompletedPart.builder().partNumber(part).eTag(eTag).build());
            }
            s3.completeMultipartUpload(b -> b.bucket(settings.bucket()).key(objectKey).uploadId(uploadId)
                    .multipartUpload(u -> u.parts(parts)));
        } catch (RuntimeException e) {
            try {
                s3.abortMultipartUpload(b -> b.bucket(settings.bucket()).key(objectKey).uploadId(uploadId));
            } catch (RuntimeException abort) {
                e.addSuppressed(abort);
            }
            throw e;
        }
    }

    /** Deletes a commit's temporary objects; what is left when that fails is for {@link #removeIncomplete()}. */
    private void deleteTemporary(List<String> objectKeys, Throwable failure) {
        // One DeleteObject each: some S3-compatible servers (Google Cloud Storage's) lack DeleteObjects.
        for (String objectKey : objectKeys) {
            try {
                s3.deleteObject(b -> b.bucket(settings.bucket()).key(objectKey));
            } catch (RuntimeException e) {
                if (failure != null) {
                    failure.addSuppressed(e);
                } else {
                    LOG.warn("Could not delete the temporary object s3://{}/{}; removeIncomplete will: {}",
                            settings.bucket(), objectKey, e.toString());
                }
            }
        }
    }

    /**
     * The bytes {@code [offset, offset + length)} of a file, throttled, as often as the SDK asks for
     * them (it reads again to retry); each stream is closed when the next one opens, the last when
     * this closes.
     */
    private final class FileRange implements ContentStreamProvider, Closeable {

        private final Path file;
        private final long offset;
        private final long length;
        private InputStream open;

        FileRange(Path file, long offset, long length) {
            this.file = file;
            this.offset = offset;
            this.length = length;
        }

        @Override
        public InputStream newStream() {
            close();
            try {
                FileChannel channel = FileChannel.open(file, StandardOpenOption.READ).position(offset);
                open = ThrottledInputStream.wrap(new Bounded(Channels.newInputStream(channel), length),
                        settings.throttleBytesPerSecond());
                return open;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + file, e);
            }
        }

        @Override
        public void close() {
            if (open != null) {
                try {
                    open.close();
                } catch (IOException e) {
                    // A read-only file: nothing was lost.
                }
                open = null;
            }
        }
    }

    /** A stream that ends after {@code remaining} bytes of another. */
    private static final class Bounded extends FilterInputStream {

        private long remaining;

        Bounded(InputStream in, long remaining) {
            super(in);
            this.remaining = remaining;
        }

        @Override
        public int read() throws IOException {
            if (remaining == 0) {
                return -1;
            }
            int b = in.read();
            if (b >= 0) {
                remaining--;
            }
            return b;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            if (remaining == 0) {
                return -1;
            }
            int n = in.read(buffer, offset, (int) Math.min(length, remaining));
            if (n > 0) {
                remaining -= n;
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long skipped = in.skip(Math.min(n, remaining));
            remaining -= skipped;
            return skipped;
        }

        @Override
        public int available() throws IOException {
            return (int) Math.min(in.available(), remaining);
        }

        @Override
        public boolean markSupported() {
            return false;
        }
    }
}
