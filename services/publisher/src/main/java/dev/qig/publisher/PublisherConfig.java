package dev.qig.publisher;

import dev.qig.core.model.Checkpoint;
import dev.qig.kafka.config.ServiceConfig;
import dev.qig.kafka.topics.Topics;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.types.Password;

/**
 * Configuration of the publisher: which models it exports, where checkpoints go (a folder or
 * S3-compatible object storage), what it does with schemes no serving engine loads, and how it
 * retries a failed upload.
 */
public final class PublisherConfig extends ServiceConfig {

    /** Consumer group of the publishers on the active-configs topic. */
    public static final String GROUP_ID = ConsumerConfig.GROUP_ID_CONFIG;
    /** Checkpoint locations of the models whose promoted configs are published. */
    public static final String MODELS = "models";
    /** folder or s3. */
    public static final String STORE_TYPE = "store.type";
    /** Root folder of the folder store. */
    public static final String STORE_FOLDER_PATH = "store.folder.path";
    /** Endpoint URL of S3-compatible storage; empty = AWS S3. */
    public static final String STORE_S3_ENDPOINT = "store.s3.endpoint";
    public static final String STORE_S3_REGION = "store.s3.region";
    public static final String STORE_S3_BUCKET = "store.s3.bucket";
    /** Key prefix under which checkpoints go in the bucket. */
    public static final String STORE_S3_PREFIX = "store.s3.prefix";
    public static final String STORE_S3_ACCESS_KEY_ID = "store.s3.access.key.id";
    /** A password-type key: never printed. */
    public static final String STORE_S3_SECRET_ACCESS_KEY = "store.s3.secret.access.key";
    public static final String STORE_S3_PATH_STYLE = "store.s3.path.style";
    /** Upload rate limit in bytes per second; 0 = none. */
    public static final String STORE_THROTTLE_BYTES_PER_SECOND = "store.throttle.bytes.per.second";
    /** refuse or fake-quantize. */
    public static final String EXPORT_UNSERVABLE = "export.unservable";
    /** The folder exports are written to before they are committed; emptied at start. */
    public static final String EXPORT_WORK_DIR = "export.work.dir";
    /** Retries of a failed commit to the store before the promotion is dead-lettered. */
    public static final String PUBLISH_RETRIES = "publish.retries";
    /** Wait before the first retry; doubles with every retry. */
    public static final String PUBLISH_RETRY_BACKOFF_MS = "publish.retry.backoff.ms";

    /** Where checkpoints are committed. */
    public enum StoreType { FOLDER, S3 }

    /** What happens to a promoted config of a scheme no serving engine loads. */
    public enum Unservable { REFUSE, FAKE_QUANTIZE }

    /** The default {@value ServiceConfig#METRICS_PORT} of the publisher (one port per service: 9401-9405). */
    public static final int DEFAULT_METRICS_PORT = 9405;

    private static final ConfigDef DEFINITION = commonDefinition(DEFAULT_METRICS_PORT, Topics.Topic.ACTIVE_CONFIGS,
            Topics.Topic.PUBLISHED_MODELS, Topics.Topic.DLQ)
            .define(GROUP_ID, Type.STRING, "qig-publisher", new ConfigDef.NonEmptyString(), Importance.HIGH,
                    "Consumer group of the publishers on the active-configs topic. One instance per group: a publisher "
                            + "learns what is published from the published-models topic at start only.")
            .define(MODELS, Type.LIST, List.of(Checkpoint.SHIPPED), NON_EMPTY_LIST, Importance.HIGH,
                    "Checkpoint locations of the models whose promoted configs are published: directories or "
                            + "classpath:<folder>. Each is loaded once at start; promotions naming another model go to "
                            + "the dead-letter topic (unknown_model).")
            .define(STORE_TYPE, Type.STRING, "folder", ConfigDef.CaseInsensitiveValidString.in("folder", "s3"),
                    Importance.HIGH, "Where checkpoints are committed: 'folder' (store.folder.path, e.g. a mounted "
                            + "volume) or 's3' (an S3-compatible bucket, store.s3.*). Either way under "
                            + "<config id>/<content hash>, files first and a manifest last.")
            .define(STORE_FOLDER_PATH, Type.STRING, "published", new ConfigDef.NonEmptyString(), Importance.HIGH,
                    "Root folder of the folder store (relative to the working directory unless absolute); created "
                            + "when missing. Interrupted uploads are left under its .incomplete folder and removed at start.")
            .define(STORE_S3_ENDPOINT, Type.STRING, "", Importance.MEDIUM,
                    "Endpoint URL of S3-compatible storage (MinIO, Ceph, ...), e.g. http://minio:9000; empty means "
                            + "AWS S3 in store.s3.region.")
            .define(STORE_S3_REGION, Type.STRING, "us-east-1", new ConfigDef.NonEmptyString(), Importance.MEDIUM,
                    "Region of the bucket (signing region for S3-compatible storage).")
            .define(STORE_S3_BUCKET, Type.STRING, "", Importance.HIGH,
                    "Bucket of the s3 store; required when store.type=s3.")
            .define(STORE_S3_PREFIX, Type.STRING, "", Importance.MEDIUM,
                    "Key prefix in the bucket under which checkpoints go (e.g. qig/published); empty = the bucket's root.")
            .define(STORE_S3_ACCESS_KEY_ID, Type.STRING, "", Importance.MEDIUM,
                    "Access key id of the s3 store; empty means the AWS SDK's default credentials (environment, "
                            + "profile, instance role).")
            .define(STORE_S3_SECRET_ACCESS_KEY, Type.PASSWORD, null, Importance.MEDIUM,
                    "Secret access key matching store.s3.access.key.id. Never printed or logged.")
            .define(STORE_S3_PATH_STYLE, Type.BOOLEAN, true, Importance.LOW,
                    "Address the bucket in the path (endpoint/bucket/key), as most S3-compatible servers need; false "
                            + "uses virtual-hosted style (bucket.endpoint/key).")
            .define(STORE_THROTTLE_BYTES_PER_SECOND, Type.LONG, 0L, ConfigDef.Range.atLeast(0), Importance.LOW,
                    "Upper bound of the upload rate to the store, bytes per second, to spare a shared link; 0 = no limit.")
            .define(EXPORT_UNSERVABLE, Type.STRING, "refuse", ConfigDef.CaseInsensitiveValidString.in("refuse",
                            "fake-quantize"), Importance.MEDIUM,
                    "Promoted configs of a scheme no serving engine loads (e.g. w3a16): 'refuse' sends them to the "
                            + "dead-letter topic (unservable_scheme); 'fake-quantize' publishes float weights on the "
                            + "quantization grid, format fake-quantized, for evaluation or research.")
            .define(EXPORT_WORK_DIR, Type.STRING, "", Importance.LOW,
                    "Folder of this publisher's own where each export is written before it is committed (empty: "
                            + "qig-publisher-<instance.id> in the JVM's temporary folder). Emptied at start: what is in it "
                            + "was left by a publisher that was killed. Give each publisher its own.")
            .define(PUBLISH_RETRIES, Type.INT, 5, ConfigDef.Range.between(0, 100), Importance.MEDIUM,
                    "Retries of a failed commit to the store; after the last the promotion goes to the dead-letter "
                            + "topic (publish_failed) with the last error, and the stream goes on.")
            .define(PUBLISH_RETRY_BACKOFF_MS, Type.LONG, 1000L, ConfigDef.Range.atLeast(0), Importance.LOW,
                    "Wait before the first retry of a failed commit, in milliseconds; doubles with every retry "
                            + "(5 retries from 1000 ms wait 31 s in all).");

    public PublisherConfig(Map<?, ?> props) {
        super(DEFINITION, props);
        if (storeType() == StoreType.S3 && getString(STORE_S3_BUCKET).isBlank()) {
            throw new ConfigException(STORE_S3_BUCKET, "", "a bucket is required when " + STORE_TYPE + "=s3");
        }
        if (getString(STORE_S3_ACCESS_KEY_ID).isBlank() != s3SecretAccessKey().isBlank()) {
            // Never the value: it may be the secret.
            throw new ConfigException(STORE_S3_ACCESS_KEY_ID + " and " + STORE_S3_SECRET_ACCESS_KEY
                    + " go together: set both, or neither for the AWS SDK's default credentials");
        }
    }

    public static ConfigDef definition() {
        return new ConfigDef(DEFINITION);
    }

    public List<String> models() {
        return getList(MODELS);
    }

    public StoreType storeType() {
        return StoreType.valueOf(getString(STORE_TYPE).toUpperCase(Locale.ROOT));
    }

    public Path storeFolder() {
        return Path.of(getString(STORE_FOLDER_PATH));
    }

    /** The secret access key, or empty; its text leaves this config only for the S3 client. */
    public String s3SecretAccessKey() {
        Password p = getPassword(STORE_S3_SECRET_ACCESS_KEY);
        return p == null ? "" : p.value();
    }

    public long throttleBytesPerSecond() {
        return getLong(STORE_THROTTLE_BYTES_PER_SECOND);
    }

    public Unservable unservable() {
        return Unservable.valueOf(getString(EXPORT_UNSERVABLE).toUpperCase(Locale.ROOT).replace('-', '_'));
    }

    /** The export work folder: export.work.dir, or qig-publisher-&lt;instance.id&gt; in java.io.tmpdir. */
    public java.nio.file.Path exportWorkDir() {
        String dir = getString(EXPORT_WORK_DIR);
        return dir.isBlank() ? java.nio.file.Path.of(System.getProperty("java.io.tmpdir"), "qig-publisher-" + instanceId())
                : java.nio.file.Path.of(dir);
    }

    public int publishRetries() {
        return getInt(PUBLISH_RETRIES);
    }

    public long publishRetryBackoffMs() {
        return getLong(PUBLISH_RETRY_BACKOFF_MS);
    }

    /** Where checkpoints go, in words for logs and the command line: a folder's absolute path or s3://bucket/prefix (endpoint). */
    public String destination() {
        if (storeType() == StoreType.FOLDER) {
            return storeFolder().toAbsolutePath().normalize().toString();
        }
        String prefix = getString(STORE_S3_PREFIX).replaceAll("^/+|/+$", "");
        String endpoint = getString(STORE_S3_ENDPOINT);
        return "s3://" + getString(STORE_S3_BUCKET) + (prefix.isEmpty() ? "" : "/" + prefix)
                + (endpoint.isBlank() ? " (AWS, " + getString(STORE_S3_REGION) + ")" : " at " + endpoint);
    }
}
