package dev.qig.ingest;

import dev.qig.data.SyntheticWorld;
import dev.qig.data.VqaSample;
import dev.qig.kafka.records.Records;
import dev.qig.schemas.CalibrationSample;
import java.time.Clock;
import java.time.temporal.ChronoUnit;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;

/**
 * Samples of the synthetic world, segment after segment of the schedule. Segment {@code i} is
 * {@code SyntheticWorld.generate(domain, count, seed + i)}, so two segments of the same domain are
 * different samples; ids are {@code <source>-<domain>-<seed>-<segment>-<index>}, unique within a
 * schedule and the same on every run of the same config (a re-run is recognisably a replay). Only
 * the current segment is held in memory (about 28 KB of pixels per sample).
 */
final class SyntheticSource implements SampleSource {

    private final SyntheticWorld world = new SyntheticWorld();
    private final List<IngestConfig.Segment> schedule;
    private final long seed;
    private final String sourceName;
    private final String model;
    private final Clock clock;

    private int segment = -1;
    private Iterator<VqaSample> current = java.util.Collections.emptyIterator();
    private int index;

    SyntheticSource(List<IngestConfig.Segment> schedule, long seed, String sourceName, String model, Clock clock) {
        this.schedule = List.copyOf(schedule);
        this.seed = seed;
        this.sourceName = sourceName;
        this.model = model;
        this.clock = clock;
    }

    @Override
    public Optional<Item> next() {
        while (!current.hasNext()) {
            if (segment + 1 >= schedule.size()) {
                return Optional.empty();
            }
            segment++;
            IngestConfig.Segment s = schedule.get(segment);
            current = world.generate(s.domain(), s.count(), seed + segment).iterator();
            index = 0;
        }
        VqaSample sample = current.next();
        String id = sourceName + "-" + sample.domain().id() + "-" + seed + "-" + segment + "-" + index;
        index++;
        return Optional.of(new Sample(record(sample, id, sourceName, model, clock)));
    }

    /** A synthetic sample as a CalibrationSample record (under its own id when {@code id} is null): the image as PNG bytes, event time now. */
    static CalibrationSample record(VqaSample sample, String id, String sourceName, String model, Clock clock) {
        return Records.calibrationSample(sample, id == null ? sample.id() : id, sourceName,
                        clock.instant().truncatedTo(ChronoUnit.MILLIS))
                .setModel(model)
                .build();
    }
}
