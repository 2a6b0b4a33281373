package dev.qig.publisher.internals;

import dev.qig.publisher.PublisherConfig;
import dev.qig.publisher.store.ArtifactStore;
import dev.qig.publisher.store.FolderArtifactStore;
import dev.qig.publisher.store.S3ArtifactStore;
import dev.qig.publisher.store.S3Settings;

/** The artifact store a publisher's config names. */
public final class Stores {

    private Stores() {}

    public static ArtifactStore open(PublisherConfig config) {
        return switch (config.storeType()) {
            case FOLDER -> new FolderArtifactStore(config.storeFolder(), config.throttleBytesPerSecond());
            case S3 -> new S3ArtifactStore(new S3Settings(
                    config.getString(PublisherConfig.STORE_S3_ENDPOINT),
                    config.getString(PublisherConfig.STORE_S3_REGION),
                    config.getString(PublisherConfig.STORE_S3_BUCKET),
                    config.getString(PublisherConfig.STORE_S3_PREFIX),
                    blankToNull(config.getString(PublisherConfig.STORE_S3_ACCESS_KEY_ID)),
                    blankToNull(config.s3SecretAccessKey()), // both null: the SDK's default credentials
                    config.getBoolean(PublisherConfig.STORE_S3_PATH_STYLE),
                    config.throttleBytesPerSecond()));
        };
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }
}
