package dev.qig.publisher.store;

/**
 * Where and how {@link S3ArtifactStore} writes: an S3 bucket on AWS or on any S3-compatible server
 * (MinIO, Ceph, S3Proxy, ...).
 *
 * @param endpoint the server's URL, e.g. {@code http://minio:9000}; null or empty = AWS's own endpoint for the region
 * @param region the region requests are signed for (S3-compatible servers mostly take {@code us-east-1});
 *     null or empty = the SDK's default region chain (AWS_REGION, the profile, instance metadata)
 * @param bucket the bucket, which must exist
 * @param prefix the key prefix every object gets, without leading or trailing '/'; null or empty = none
 * @param accessKeyId the access key; null = the SDK's default credential chain
 * @param secretAccessKey the secret of {@code accessKeyId}; null = the SDK's default credential chain
 * @param pathStyle whether to address the bucket in the path ({@code endpoint/bucket/key}), as most
 *     S3-compatible servers need, rather than in the host name ({@code bucket.endpoint/key})
 * @param throttleBytesPerSecond the cap on the rate at which files are uploaded; 0 = none
 */
public record S3Settings(
        String endpoint,
        String region,
        String bucket,
        String prefix,
        String accessKeyId,
        String secretAccessKey,
        boolean pathStyle,
        long throttleBytesPerSecond) {

    public S3Settings {
        if (bucket == null || bucket.isBlank()) {
            throw new IllegalArgumentException("no bucket");
        }
        if ((accessKeyId == null) != (secretAccessKey == null)) {
            throw new IllegalArgumentException("an access key id needs its secret, and a secret its access key id");
        }
        if (throttleBytesPerSecond < 0) {
            throw new IllegalArgumentException("a negative throttle: " + throttleBytesPerSecond);
        }
        prefix = prefix == null ? "" : stripSlashes(prefix);
    }

    private static String stripSlashes(String s) {
        int from = 0;
        int to = s.length();
        while (from < to && s.charAt(from) == '/') {
            from++;
        }
        while (to > from && s.charAt(to - 1) == '/') {
            to--;
        }
        return s.substring(from, to);
    }

    /** Everything but the secret, which logs and error messages must never show. */
    @Override
    public String toString() {
        return "S3Settings[endpoint=" + endpoint + ", region=" + region + ", bucket=" + bucket + ", prefix=" + prefix
                + ", accessKeyId=" + accessKeyId + ", secretAccessKey=" + (secretAccessKey == null ? null : "***")
                + ", pathStyle=" + pathStyle + ", throttleBytesPerSecond=" + throttleBytesPerSecond + "]";
    }
}
