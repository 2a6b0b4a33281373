package dev.qig.publisher;

import static dev.qig.publisher.PublisherTestKit.promotion;
import static dev.qig.publisher.PublisherTestKit.read;
import static dev.qig.publisher.PublisherTestKit.send;
import static dev.qig.publisher.PublisherTestKit.settings;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.io.Sha256;
import dev.qig.core.model.Checkpoint;
import dev.qig.quant.QuantConfig;
import dev.qig.quant.QuantScheme;
import dev.qig.kafka.embedded.EmbeddedKafka;
import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.publisher.internals.PublishedModels;
import dev.qig.publisher.store.Manifest;
import dev.qig.publisher.store.S3ArtifactStore;
import dev.qig.publisher.store.S3Settings;
import dev.qig.schemas.ActiveConfig;
import dev.qig.schemas.ModelPublished;
import dev.qig.schemas.PublishedFile;
import java.net.URI;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStoreContext;
import org.jclouds.blobstore.domain.Blob;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The publisher with store.type=s3 on a real broker, against S3Proxy (an S3 server in this JVM over
 * an in-memory blob store, AWS V4 signatures): a promotion becomes one ModelPublished whose location
 * is the s3:// prefix of a committed checkpoint, every object of which holds the bytes the event lists.
 */
class PublisherToS3Test {

    private static final String ACCESS_KEY = "qig-publisher-test";
    private static final String SECRET_KEY = "qig-publisher-secret-never-printed";

    @Test
    void aPromotionIsCommittedToS3AndAnnounced(@TempDir Path dir) throws Exception {
        String scope = "publisher-s3-" + UUID.randomUUID();
        SchemaRegistryClient registry = MockSchemaRegistry.scope(scope);
        BlobStoreContext blobs = ContextBuilder.newBuilder("transient").credentials("identity", "credential")
                .build(BlobStoreContext.class);
        S3Proxy proxy = S3Proxy.builder().blobStore(blobs.getBlobStore()).endpoint(URI.create("http://127.0.0.1:0"))
                .awsAuthentication(AuthenticationType.AWS_V4, ACCESS_KEY, SECRET_KEY).build();
        proxy.start();
        String endpoint = "http://127.0.0.1:" + proxy.getPort();
        String bucket = "qig-published";
        blobs.getBlobStore().createContainerInLocation(null, bucket);
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            QuantConfig config = QuantConfig.rtn(Checkpoint.modelId(Checkpoint.SHIPPED), QuantScheme.W8A8, Map.of());
            ActiveConfig promoted = promotion(config);
            Map<String, Object> props = settings(kafka, scope, dir.resolve("unused"), "publisher-s3");
            props.put(PublisherConfig.STORE_TYPE, "s3");
            props.put(PublisherConfig.STORE_S3_ENDPOINT, endpoint);
            props.put(PublisherConfig.STORE_S3_BUCKET, bucket);
            props.put(PublisherConfig.STORE_S3_PREFIX, "models");
            props.put(PublisherConfig.STORE_S3_ACCESS_KEY_ID, ACCESS_KEY);
            props.put(PublisherConfig.STORE_S3_SECRET_ACCESS_KEY, SECRET_KEY);
            PublisherConfig settings = new PublisherConfig(props);
            try (Publisher publisher = new Publisher(settings, registry)) {
                publisher.start();
                send(kafka, settings.topic(Topics.Topic.ACTIVE_CONFIGS),
                        List.of(new AvroSerializer<ActiveConfig>(registry).serialize(settings.topic(Topics.Topic.ACTIVE_CONFIGS), promoted)));
                ModelPublished event = read(kafka, settings.topic(Topics.Topic.PUBLISHED_MODELS), 1,
                        new AvroDeserializer<>(registry, ModelPublished.class)).get(0);

                String key = PublishedModels.storeKey(config.id(), event.getContentHash());
                assertEquals("s3://" + bucket + "/models/" + key, event.getLocation());
                assertEquals("int-quantized", event.getFormat());
                try (S3ArtifactStore store = new S3ArtifactStore(new S3Settings(endpoint, "us-east-1", bucket, "models",
                        ACCESS_KEY, SECRET_KEY, true, 0))) {
                    Manifest manifest = store.committed(key).orElseThrow(() -> new AssertionError("nothing committed at " + key));
                    assertEquals(manifest.contentHash(), event.getContentHash());
                    assertEquals(manifest.files().stream().map(f -> f.path() + " " + f.size() + " " + f.sha256()).toList(),
                            event.getFiles().stream().map(f -> f.getPath() + " " + f.getSize() + " " + f.getSha256()).toList(),
                            "the event lists the manifest's files");
                    assertEquals(0, store.removeIncomplete(), "no temporary objects left");
                }
                for (PublishedFile f : event.getFiles()) {
                    Blob blob = blobs.getBlobStore().getBlob(bucket, "models/" + key + "/" + f.getPath());
                    byte[] bytes = blob.getPayload().openStream().readAllBytes();
                    assertEquals(f.getSize(), bytes.length, f.getPath());
                    MessageDigest sha = Sha256.newDigest();
                    sha.update(bytes);
                    assertEquals(f.getSha256(), Sha256.hex(sha), f.getPath());
                }
                assertTrue(event.getFiles().stream().anyMatch(f -> f.getPath().equals("model.safetensors")));
                assertEquals(event.getFiles().size() + 1, blobs.getBlobStore().list(bucket,
                        org.jclouds.blobstore.options.ListContainerOptions.Builder.prefix("models/" + key + "/").recursive()).size(),
                        "the checkpoint's objects and its manifest under the key, nothing else");
                assertEquals(1, publisher.stats().published());
                assertEquals(event.getTotalBytes(), publisher.stats().bytes());
            }
        } finally {
            proxy.stop();
            blobs.close();
            MockSchemaRegistry.drop(scope);
        }
    }
}
