package dev.qig.ingest;

import dev.qig.kafka.dlq.RejectReason;
import dev.qig.schemas.CalibrationSample;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Where {@link Ingest} takes its samples from, one at a time, so that a source of any size streams
 * without being held in memory. Besides samples, a source yields the inputs it could not turn into a
 * sample ({@link Rejected}): ingest writes those to the dead-letter topic instead of dropping them.
 * {@link #of(IngestConfig)} builds the configured source; implement this interface to ingest from
 * elsewhere.
 */
public interface SampleSource extends AutoCloseable {

    /** One step of a source: a sample to send, or an input that could not become one. */
    sealed interface Item permits Sample, Rejected {
    }

    /** A sample, ready to send; its {@code sampleId} becomes the record key. */
    record Sample(CalibrationSample value) implements Item {
        public Sample {
            Objects.requireNonNull(value, "value");
        }
    }

    /**
     * An input that cannot become a sample; it goes to the dead-letter topic as it was.
     *
     * @param key   the dead letter's key, e.g. the file name
     * @param value the input's original bytes, or null when they could not be read
     */
    record Rejected(byte[] key, byte[] value, RejectReason reason, Exception error) implements Item {
        public Rejected {
            Objects.requireNonNull(reason, "reason");
            Objects.requireNonNull(error, "error");
        }
    }

    /** The next item, or empty when the source is exhausted. */
    Optional<Item> next();

    /** Releases what the source holds; the default holds nothing. */
    @Override
    default void close() {
    }

    /**
     * Given synthetic samples, in order, under their own ids (for callers that pick the samples
     * themselves, such as {@code qig stream} and its batch check).
     */
    static SampleSource of(java.util.List<dev.qig.data.VqaSample> samples, String sourceName) {
        java.util.Iterator<dev.qig.data.VqaSample> it = List.copyOf(samples).iterator();
        java.time.Clock clock = java.time.Clock.systemUTC();
        return () -> it.hasNext()
                ? Optional.of(new Sample(SyntheticSource.record(it.next(), null, sourceName, null, clock)))
                : Optional.empty();
    }

    /** The source {@code config} describes: synthetic (its schedule), folder (its JSON files) or jsonl (the lines of its file). */
    static SampleSource of(IngestConfig config) {
        return switch (config.source()) {
            case SYNTHETIC -> new SyntheticSource(config.schedule(), config.seed(), config.sourceName(), config.model(),
                    java.time.Clock.systemUTC());
            case FOLDER -> new FolderSource(config.folder(), config.sourceName(), config.model(), java.time.Clock.systemUTC());
            case JSONL -> new JsonLinesSource(config.jsonlPath(), config.sourceName(), config.model(),
                    java.time.Clock.systemUTC());
        };
    }
}
