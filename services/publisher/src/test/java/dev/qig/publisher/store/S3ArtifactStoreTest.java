package dev.qig.publisher.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.core.export.ExportedCheckpoint;
import dev.qig.core.export.ExportedFile;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStoreContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * The S3 store against a real S3 server in this JVM: S3Proxy over jclouds' in-memory ("transient")
 * blob store, on a free port of 127.0.0.1, checking AWS V4 signatures, addressed path-style.
 */
class S3ArtifactStoreTest {

    private static final String ACCESS_KEY = "qig-test-access";
    private static final String SECRET_KEY = "qig-test-secret-never-printed";
    private static final String PREFIX = "models/qig";
    private static final AtomicInteger BUCKETS = new AtomicInteger();

    private static BlobStoreContext blobs;
    private static S3Proxy proxy;
    private static String endpoint;

    @TempDir
    Path export;

    private String bucket;
    private S3Client s3;

    @BeforeAll
    static void startS3Proxy() throws Exception {
        blobs = ContextBuilder.newBuilder("transient").credentials("identity", "credential").build(BlobStoreContext.class);
        proxy = S3Proxy.builder()
                .blobStore(blobs.getBlobStore())
                .endpoint(URI.create("http://127.0.0.1:0"))
                .awsAuthentication(AuthenticationType.AWS_V4, ACCESS_KEY, SECRET_KEY)
                .build();
        proxy.start();
        endpoint = "http://127.0.0.1:" + proxy.getPort();
    }

    @AfterAll
    static void stopS3Proxy() throws Exception {
        if (proxy != null) {
            proxy.stop();
        }
        if (blobs != null) {
            blobs.close();
        }
    }

    @BeforeEach
    void createBucket() {
        bucket = "qig-test-" + BUCKETS.incrementAndGet();
        blobs.getBlobStore().createContainerInLocation(null, bucket);
        s3 = S3Client.builder()
                .httpClientBuilder(UrlConnectionHttpClient.builder())
                .endpointOverride(URI.create(endpoint))
                .region(Region.US_EAST_1)
                .forcePathStyle(true)
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY)))
                .build();
    }

    @AfterEach
    void closeClient() {
        s3.close();
    }

    private S3Settings settings(long throttle) {
        return new S3Settings(endpoint, "us-east-1", bucket, PREFIX, ACCESS_KEY, SECRET_KEY, true, throttle);
    }

    private static String keyOf(ExportedCheckpoint checkpoint) {
        return "sha256-0123456789abcdef/w4a16/qig/v3/" + checkpoint.contentHash();
    }

    @Test
    void committedReturnsTheManifestAndEveryFileRoundTrips() throws IOException {
        ExportedCheckpoint checkpoint = TestCheckpoints.small(export, 1);
        String key = keyOf(checkpoint);
        try (S3ArtifactStore store = new S3ArtifactStore(settings(0))) {
            assertEquals(Optional.empty(), store.committed(key));

            Manifest manifest = store.commit(key, checkpoint);

            assertEquals(new Manifest(key, checkpoint.contentHash(), checkpoint.files()), manifest);
            assertEquals(Optional.of(manifest), store.committed(key));
            assertEquals("s3://" + bucket + "/" + PREFIX + "/" + key, store.location(key));
            assertRoundTrips(checkpoint, key);
            assertEquals(List.of(), keysUnder(PREFIX + "/.incomplete/"));
        }
    }

    @Test
    void filesOverThePartSizeAreUploadedAndCopiedInParts() throws IOException {
        // 11 MiB and a bit: three parts of at least 5 MiB (S3's minimum) and a last, smaller one.
        ExportedCheckpoint checkpoint = TestCheckpoints.write(export, Map.of(
                "config.json", "{}".getBytes(),
                "model-00001-of-00001.safetensors", TestCheckpoints.random((11 << 20) + 12_345, 11)));
        String key = keyOf(checkpoint);
        try (S3ArtifactStore store = new S3ArtifactStore(settings(0), 5L << 20, 5L << 20)) {
            Manifest manifest = store.commit(key, checkpoint);

            assertEquals(Optional.of(manifest), store.committed(key));
            assertRoundTrips(checkpoint, key);
            assertEquals(List.of(), keysUnder(PREFIX + "/.incomplete/"));
        }
    }

    @Test
    void committingTheSameCheckpointTwiceKeepsOneCopy() throws IOException {
        ExportedCheckpoint checkpoint = TestCheckpoints.small(export, 2);
        String key = keyOf(checkpoint);
        try (S3ArtifactStore store = new S3ArtifactStore(settings(0))) {
            Manifest first = store.commit(key, checkpoint);
            // Gone from the export, the files cannot be uploaded again: the second commit must see the first.
            for (ExportedFile f : checkpoint.files()) {
                Files.delete(export.resolve(f.path()));
            }

            assertEquals(first, store.commit(key, checkpoint));
            assertEquals(checkpoint.files().size() + 1, keysUnder(PREFIX + "/" + key + "/").size());
            assertEquals(List.of(), keysUnder(PREFIX + "/.incomplete/"));
        }
    }

    @Test
    void anotherCheckpointUnderACommittedKeyIsRefused(@TempDir Path otherExport) throws IOException {
        ExportedCheckpoint checkpoint = TestCheckpoints.small(export, 3);
        ExportedCheckpoint other = TestCheckpoints.small(otherExport, 4);
        String key = keyOf(checkpoint);
        try (S3ArtifactStore store = new S3ArtifactStore(settings(0))) {
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
        // A commit killed while uploading: two objects in the temporary place, and a multipart upload begun there.
        put(PREFIX + "/.incomplete/1f0c/config.json", export.resolve("config.json"));
        put(PREFIX + "/.incomplete/1f0c/tokenizer/tokenizer.json", export.resolve("tokenizer/tokenizer.json"));
        String uploadId = s3.createMultipartUpload(b -> b.bucket(bucket).key(PREFIX + "/.incomplete/1f0c/model.safetensors")).uploadId();
        s3.uploadPart(b -> b.bucket(bucket).key(PREFIX + "/.incomplete/1f0c/model.safetensors").uploadId(uploadId).partNumber(1),
                RequestBody.fromBytes(TestCheckpoints.random(1000, 5)));
        // A commit killed while copying: a file under the key, no manifest.
        put(PREFIX + "/" + key + "/config.json", export.resolve("config.json"));
        assertEquals(1, s3.listMultipartUploads(b -> b.bucket(bucket).prefix(PREFIX + "/.incomplete/")).uploads().size());
        try (S3ArtifactStore store = new S3ArtifactStore(settings(0))) {
            assertEquals(Optional.empty(), store.committed(key));

            assertEquals(2, store.removeIncomplete());
            assertEquals(List.of(), keysUnder(PREFIX + "/.incomplete/"));
            assertEquals(List.of(), s3.listMultipartUploads(b -> b.bucket(bucket).prefix(PREFIX + "/.incomplete/")).uploads());

            Manifest manifest = store.commit(key, checkpoint);
            assertEquals(Optional.of(manifest), store.committed(key));
            assertRoundTrips(checkpoint, key);
        }
    }

    @Test
    void aManifestWhoseObjectsAreNotAllThereIsNotCommitted() throws IOException {
        ExportedCheckpoint checkpoint = TestCheckpoints.small(export, 6);
        String key = keyOf(checkpoint);
        try (S3ArtifactStore store = new S3ArtifactStore(settings(0))) {
            store.commit(key, checkpoint);
            String weights = PREFIX + "/" + key + "/model.safetensors";
            s3.putObject(b -> b.bucket(bucket).key(weights), RequestBody.fromBytes(new byte[10]));
            assertEquals(Optional.empty(), store.committed(key));

            s3.deleteObject(b -> b.bucket(bucket).key(weights));
            assertEquals(Optional.empty(), store.committed(key));
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
        try (S3ArtifactStore store = new S3ArtifactStore(settings(0))) {
            IOException e = assertThrows(IOException.class, () -> store.commit(key, checkpoint));

            assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
            assertEquals(Optional.empty(), store.committed(key));
            assertEquals(List.of(), keysUnder(PREFIX + "/"));
        }
    }

    @Test
    void aThrottledCommitUploadsTheSameBytes() throws IOException {
        ExportedCheckpoint checkpoint = TestCheckpoints.small(export, 8);
        String key = keyOf(checkpoint);
        try (S3ArtifactStore store = new S3ArtifactStore(settings(4L << 20))) {
            Manifest manifest = store.commit(key, checkpoint);

            assertEquals(Optional.of(manifest), store.committed(key));
            assertRoundTrips(checkpoint, key);
        }
    }

    @Test
    void settingsNeverPrintTheSecret() {
        String printed = settings(0).toString();
        assertFalse(printed.contains(SECRET_KEY), printed);
        assertTrue(printed.contains(ACCESS_KEY), printed);
    }

    /** Every file of {@code checkpoint} is under {@code key} with its bytes, and its SHA-256 in its metadata. */
    private void assertRoundTrips(ExportedCheckpoint checkpoint, String key) throws IOException {
        for (ExportedFile f : checkpoint.files()) {
            String objectKey = PREFIX + "/" + key + "/" + f.path();
            byte[] stored = s3.getObjectAsBytes(b -> b.bucket(bucket).key(objectKey)).asByteArray();
            assertArrayEquals(Files.readAllBytes(export.resolve(f.path())), stored, f.path());
            assertEquals(f.sha256(), TestCheckpoints.sha256(stored), f.path());
            HeadObjectResponse head = s3.headObject(b -> b.bucket(bucket).key(objectKey));
            assertEquals(f.sha256(), head.metadata().get("sha256"), f.path());
        }
    }

    private void put(String objectKey, Path file) {
        s3.putObject(b -> b.bucket(bucket).key(objectKey), RequestBody.fromFile(file));
    }

    private List<String> keysUnder(String prefix) {
        return s3.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(prefix)).contents().stream().map(S3Object::key).toList();
    }
}
