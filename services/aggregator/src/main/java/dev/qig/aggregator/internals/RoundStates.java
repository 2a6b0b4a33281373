package dev.qig.aggregator.internals;

import dev.qig.quant.CalibrationSums;
import dev.qig.quant.InputRange;
import dev.qig.quant.ExactSum;
import dev.qig.quant.GroupErrors;
import dev.qig.quant.GroupKey;
import dev.qig.quant.GroupStatistics;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.records.RoundKey;
import dev.qig.schemas.EngineSettings;
import dev.qig.schemas.internal.ExactGroupErrors;
import dev.qig.schemas.internal.ExactGroupStatistics;
import dev.qig.schemas.internal.RoundLayerSums;
import dev.qig.schemas.internal.RoundState;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Between a round's exact sums and its state-store records, losslessly: the round's header
 * (RoundState) under the round key, and its sums as one RoundLayerSums per decoder layer, so that no
 * store record (nor changelog message) holds a whole model's sums.
 */
final class RoundStates {

    private RoundStates() {}

    /** The state of a round key that has seen nothing yet: round 1 under the empty plan. */
    static RoundState fresh(RoundKey key, EngineSettings settings) {
        return RoundState.newBuilder()
                .setRoundKey(key.toString())
                .setModel(key.model())
                .setScheme(key.scheme().id())
                .setSettings(settings)
                .setRound(1)
                .setPlanVersion(0)
                .setPlan(null)
                .setSamples(0)
                .setOpenedAtMs(0)
                .setFirstEventTime(0)
                .setLastEventTime(0)
                .setDomains(new HashMap<>())
                .setDuplicates(0)
                .build();
    }

    /** The key of one layer's sums of a round key in the layer-sums store; a round key's keys share the prefix. */
    static String layerKey(String roundKey, int layer) {
        return layerPrefix(roundKey) + String.format(java.util.Locale.ROOT, "%05d", layer);
    }

    static String layerPrefix(String roundKey) {
        return roundKey + "|";
    }

    /**
     * The round's sums, from its per-layer records. They were written with the state in one
     * transaction, so each must name the state's round, plan and sample count.
     *
     * @throws IllegalStateException when a layer record does not match the state (a store that was
     *     not written by this version, or damaged)
     */
    static CalibrationSums sums(RoundState s, KeyValueStore<String, RoundLayerSums> layers) {
        if (s.getSamples() == 0) {
            return new CalibrationSums(Map.of(), Map.of(), 0);
        }
        Map<GroupKey, GroupStatistics> statistics = new TreeMap<>();
        Map<GroupKey, GroupErrors> errors = new TreeMap<>();
        Map<GroupKey, InputRange> ranges = new TreeMap<>();
        Map<GroupKey, GroupStatistics> vision = new TreeMap<>();
        try (KeyValueIterator<String, RoundLayerSums> it = layers.prefixScan(layerPrefix(s.getRoundKey()), new StringSerializer())) {
            while (it.hasNext()) {
                KeyValue<String, RoundLayerSums> e = it.next();
                RoundLayerSums l = e.value;
                if (l.getRound() != s.getRound() || l.getPlanVersion() != s.getPlanVersion() || l.getSamples() != s.getSamples()) {
                    throw new IllegalStateException(e.key + " holds round " + l.getRound() + ", plan " + l.getPlanVersion() + ", "
                            + l.getSamples() + " samples; the round state is at round " + s.getRound() + ", plan "
                            + s.getPlanVersion() + ", " + s.getSamples() + " samples");
                }
                for (ExactGroupStatistics g : l.getStatistics()) {
                    statistics.put(Records.groupKey(g.getLayer(), g.getGroup()), statistics(g));
                }
                for (ExactGroupStatistics g : l.getVision()) {
                    vision.put(Records.groupKey(g.getLayer(), g.getGroup()), statistics(g));
                }
                for (ExactGroupErrors g : l.getErrors()) {
                    errors.put(Records.groupKey(g.getLayer(), g.getGroup()), GroupErrors.ofSums(exact(g.getEAll()),
                            exact(g.getEAnswer()), exact(g.getEVision()), exact(g.getEQig()), g.getNAll(), g.getNAnswer(),
                            g.getNVision(), exact(g.getLambdaSum())));
                }
                for (dev.qig.schemas.InputRange g : l.getRanges()) {
                    ranges.put(Records.groupKey(g.getLayer(), g.getGroup()), Records.range(g));
                }
            }
        }
        if (statistics.isEmpty()) {
            throw new IllegalStateException("round " + s.getRound() + " of " + s.getRoundKey() + " counts " + s.getSamples()
                    + " samples but its layer sums are missing");
        }
        return new CalibrationSums(statistics, errors, ranges, vision, s.getSamples());
    }

    private static GroupStatistics statistics(ExactGroupStatistics g) {
        return GroupStatistics.ofSums(exact(g.getAbsSum()), g.getTokens(), exact(g.getGradVisionSum()),
                g.getGradVisionCount(), exact(g.getGradAnswerSum()), g.getGradAnswerCount());
    }

    private static ExactGroupStatistics statisticsRecord(GroupKey k, GroupStatistics g) {
        return ExactGroupStatistics.newBuilder()
                .setLayer(k.layer()).setGroup(k.group().id())
                .setAbsSum(records(g.absSum())).setTokens(g.tokens())
                .setGradVisionSum(record(g.gradVisionSum())).setGradVisionCount(g.gradVisionCount())
                .setGradAnswerSum(record(g.gradAnswerSum())).setGradAnswerCount(g.gradAnswerCount())
                .build();
    }

    /**
     * The bytes of the largest layer record of a round's sums and of all of them (as the store and its
     * changelog hold them, less the registry's 5-byte header): encoded once more, so for a round's
     * close, not per record.
     */
    static long[] encodedSizes(RoundState s, CalibrationSums sums) {
        long largest = 0;
        long total = 0;
        for (RoundLayerSums l : layerRecords(s.getRoundKey(), s.getRound(), s.getPlanVersion(), sums).values()) {
            long bytes = encodedSize(l);
            largest = Math.max(largest, bytes);
            total += bytes;
        }
        return new long[] {largest, total};
    }

    /** A round's sums as one store record per decoder layer, each with only that layer's groups, by store key. */
    static Map<String, RoundLayerSums> layerRecords(String roundKey, long round, long planVersion, CalibrationSums sums) {
        Map<Integer, List<ExactGroupStatistics>> statistics = new TreeMap<>();
        sums.statistics().forEach((k, g) -> statistics.computeIfAbsent(k.layer(), x -> new ArrayList<>())
                .add(statisticsRecord(k, g)));
        Map<Integer, List<ExactGroupStatistics>> vision = new TreeMap<>();
        sums.vision().forEach((k, g) -> vision.computeIfAbsent(k.layer(), x -> new ArrayList<>()).add(statisticsRecord(k, g)));
        Map<Integer, List<ExactGroupErrors>> errors = new TreeMap<>();
        sums.errors().forEach((k, g) -> errors.computeIfAbsent(k.layer(), x -> new ArrayList<>())
                .add(ExactGroupErrors.newBuilder()
                        .setLayer(k.layer()).setGroup(k.group().id())
                        .setEAll(records(g.eAll())).setEAnswer(records(g.eAnswer())).setEVision(records(g.eVision()))
                        .setEQig(records(g.eQig()))
                        .setNAll(g.nAll()).setNAnswer(g.nAnswer()).setNVision(g.nVision())
                        .setLambdaSum(record(g.lambdaSum()))
                        .build()));
        Map<Integer, List<dev.qig.schemas.InputRange>> ranges = new TreeMap<>();
        sums.ranges().forEach((k, r) -> ranges.computeIfAbsent(k.layer(), x -> new ArrayList<>()).add(Records.rangeRecord(k, r)));
        Map<String, RoundLayerSums> out = new java.util.LinkedHashMap<>();
        statistics.forEach((layer, st) -> out.put(layerKey(roundKey, layer), new RoundLayerSums(round,
                planVersion, sums.samples(), st, errors.getOrDefault(layer, List.of()),
                ranges.getOrDefault(layer, List.of()), vision.getOrDefault(layer, List.of()))));
        return out;
    }

    /** Deletes every record whose key starts with {@code prefix}; returns how many. */
    static <V> int deleteByPrefix(KeyValueStore<String, V> store, String prefix) {
        List<String> keys = new ArrayList<>();
        try (KeyValueIterator<String, V> it = store.prefixScan(prefix, new StringSerializer())) {
            while (it.hasNext()) {
                keys.add(it.next().key);
            }
        }
        keys.forEach(store::delete);
        return keys.size();
    }

    /** Avro binary size of a record (what a state store and its changelog hold, less the registry's 5-byte header). */
    private static long encodedSize(org.apache.avro.specific.SpecificRecordBase r) {
        try {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            org.apache.avro.io.BinaryEncoder enc = org.apache.avro.io.EncoderFactory.get().directBinaryEncoder(out, null);
            new org.apache.avro.specific.SpecificDatumWriter<org.apache.avro.specific.SpecificRecordBase>(r.getSchema()).write(r, enc);
            return out.size();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static ExactSum exact(dev.qig.schemas.internal.ExactSum r) {
        ByteBuffer b = r.getUnscaled().duplicate();
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        return ExactSum.of(new BigInteger(bytes), r.getExponent());
    }

    private static ExactSum[] exact(List<dev.qig.schemas.internal.ExactSum> r) {
        ExactSum[] out = new ExactSum[r.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = exact(r.get(i));
        }
        return out;
    }

    private static dev.qig.schemas.internal.ExactSum record(ExactSum s) {
        return new dev.qig.schemas.internal.ExactSum(ByteBuffer.wrap(s.unscaled().toByteArray()), s.exponent());
    }

    private static List<dev.qig.schemas.internal.ExactSum> records(ExactSum[] sums) {
        List<dev.qig.schemas.internal.ExactSum> out = new ArrayList<>(sums.length);
        for (ExactSum s : sums) {
            out.add(record(s));
        }
        return out;
    }
}
