package dev.qig.aggregator.internals;

import dev.qig.quant.CalibrationPlan;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.CalibrationSums;
import dev.qig.quant.GroupKey;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.quant.QuantScheme;
import dev.qig.kafka.dlq.RejectReason;
import dev.qig.kafka.dlq.RejectedRecordException;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.records.RoundKey;
import dev.qig.schemas.LayerStats;
import dev.qig.schemas.PartialsKind;
import dev.qig.aggregator.AggregatorConfig.DriftThresholds;
import dev.qig.aggregator.AggregatorConfig.RequantizePolicy;
import dev.qig.schemas.ActiveConfig;
import dev.qig.schemas.DriftEvent;
import dev.qig.schemas.GroupDrift;
import dev.qig.schemas.internal.DriftCheck;
import dev.qig.schemas.internal.GroupDriftCheck;
import dev.qig.schemas.internal.RoundState;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sums one sample's partial sums at a time into the round of its round key, exactly and once per
 * sample; closes a round at N samples or after a time limit. A closed round under a plan is checked
 * for drift (regret of the configs in force, shift of the channel means; {@link DriftMonitor}), and
 * emits one config per method when it calibrates, a DriftEvent when a drift is confirmed, and the
 * next plan when one is due (see {@link #close}). Records that cannot be added (unknown model, a key
 * that does not match the value, a stale or unknown plan, sums that do not fit the plan) are thrown
 * as {@link RejectedRecordException}s, which the processing-exception handler sends to the
 * dead-letter topic; the stream goes on.
 */
public final class RoundProcessor implements Processor<String, LayerStats, String, SpecificRecord> {

    public static final String ROUNDS_STORE = "rounds";
    public static final String SEEN_STORE = "seen-samples";
    public static final String CONFIGS_STORE = "configs";
    public static final String PROGRESS_STORE = "round-progress";
    /** The open rounds' exact sums, one record per round key and decoder layer. */
    public static final String LAYER_SUMS_STORE = "round-layer-sums";
    /** Parts of samples cut into several LayerStats records, held until the sample's last part arrives. */
    public static final String PENDING_STORE = "pending-parts";
    public static final String PLANS_SINK = "plans-sink";
    public static final String CONFIGS_SINK = "configs-sink";
    public static final String DRIFT_SINK = "drift-events-sink";
    public static final String GPTQ_JOBS_SINK = "gptq-jobs-sink";

    private static final Logger LOG = LoggerFactory.getLogger(RoundProcessor.class);
    /** More parts than decoder layers of any model: a record claiming more is malformed. */
    private static final int MAX_PARTS = 10_000;

    /** What the processor needs to know. */
    public record Settings(Set<String> models, int roundSamples, long maxDurationMs, long checkIntervalMs,
                           int planRefreshRounds, int dedupRounds, Method distortionMethod, String instanceId,
                           RequantizePolicy policy, DriftThresholds drift) {}

    private final Settings settings;
    private ProcessorContext<String, SpecificRecord> context;
    private RoundStateStore rounds;
    private KeyValueStore<String, Long> seen;
    private KeyValueStore<String, dev.qig.schemas.QuantConfig> configs;
    private RoundSumsStore layerSums;
    private KeyValueStore<String, LayerStats> pending;
    private ReadOnlyKeyValueStore<String, ActiveConfig> active;
    /** Per round key and plan version, the plan's groups and their channel counts (see {@link #planChannels}). */
    private final Map<String, Map<GroupKey, Integer>> planChannels = new java.util.HashMap<>();
    /** Rounds whose close failed, logged once each. */
    private final Set<String> failedCloses = new java.util.HashSet<>();

    private final AggregatorMetrics metrics;
    private final ScaleSearcher searcher;

    public RoundProcessor(Settings settings, AggregatorMetrics metrics) {
        this(settings, metrics, ScaleSearcher.DEFAULT);
    }

    public RoundProcessor(Settings settings, AggregatorMetrics metrics, ScaleSearcher searcher) {
        this.settings = settings;
        this.metrics = metrics;
        this.searcher = searcher;
    }

    @Override
    public void init(ProcessorContext<String, SpecificRecord> context) {
        this.context = context;
        this.rounds = RoundStateStore.of(context.getStateStore(ROUNDS_STORE));
        this.seen = context.getStateStore(SEEN_STORE);
        this.configs = context.getStateStore(CONFIGS_STORE);
        // A round's progress summary is written back with its state, once per commit.
        rounds.progressTo(context.getStateStore(PROGRESS_STORE));
        this.layerSums = RoundSumsStore.of(context.getStateStore(LAYER_SUMS_STORE));
        this.pending = context.getStateStore(PENDING_STORE);
        this.active = context.getStateStore(ActiveConfigsStoreUpdater.STORE);
        context.schedule(Duration.ofMillis(settings.checkIntervalMs()), PunctuationType.WALL_CLOCK_TIME, this::closeExpired);
    }

    @Override
    public void process(Record<String, LayerStats> record) {
        LayerStats stats = record.value();
        if (stats == null) {
            throw new RejectedRecordException(RejectReason.MALFORMED_STATS, "a layer-stats record without a value");
        }
        if (!settings.models().contains(stats.getModel())) {
            throw new RejectedRecordException(RejectReason.UNKNOWN_MODEL, "model " + stats.getModel()
                    + " is not one this aggregator serves " + settings.models());
        }
        RoundKey key;
        try {
            key = RoundKey.of(stats.getModel(), QuantScheme.parse(stats.getScheme()), stats.getSettings());
        } catch (IllegalArgumentException e) {
            throw new RejectedRecordException(RejectReason.MALFORMED_STATS, "sample " + stats.getSampleId() + ": " + e.getMessage(), e);
        }
        if (stats.getParts() < 1 || stats.getPart() < 0 || stats.getPart() >= stats.getParts() || stats.getParts() > MAX_PARTS) {
            throw new RejectedRecordException(RejectReason.MALFORMED_STATS, "sample " + stats.getSampleId() + ": part "
                    + stats.getPart() + " of " + stats.getParts() + " (parts run from 0 to at most " + (MAX_PARTS - 1) + ")");
        }
        if (!key.toString().equals(record.key())) {
            throw new RejectedRecordException(RejectReason.MISMATCHED_ROUND, "record key '" + record.key()
                    + "' does not match the round its value names, '" + key + "'");
        }
        RoundState state = rounds.state(record.key());
        if (state == null) {
            state = RoundStates.fresh(key, stats.getSettings());
        }
        long plan = state.getPlanVersion();
        if (stats.getPlanVersion() < plan) {
            throw new RejectedRecordException(RejectReason.STALE_PLAN, "sample " + stats.getSampleId() + " was computed under plan "
                    + stats.getPlanVersion() + "; round " + state.getRound() + " of " + key + " sums under plan " + plan);
        }
        if (stats.getPlanVersion() > plan) {
            throw new RejectedRecordException(RejectReason.UNKNOWN_PLAN, "sample " + stats.getSampleId() + " names plan "
                    + stats.getPlanVersion() + "; the latest plan of " + key + " is " + plan);
        }
        String seenKey = record.key() + "|" + plan + "|" + stats.getSampleId();
        if (seen.get(seenKey) != null) {
            // A redelivery, or the same sample id sent twice: it counts once.
            duplicate(state, key, stats);
            return;
        }
        LayerStats whole = stats;
        List<String> heldKeys = List.of();
        if (stats.getParts() > 1) {
            // A sample cut into parts joins a round only whole: its parts wait here until the last arrives, so a
            // round closes with complete samples only, however the parts of different samples interleave.
            String prefix = seenKey + "|";
            String partKey = prefix + String.format(java.util.Locale.ROOT, "%05d", stats.getPart());
            if (pending.get(partKey) != null) {
                duplicate(state, key, stats);
                return;
            }
            List<LayerStats> held = new ArrayList<>();
            List<String> keys = new ArrayList<>();
            try (KeyValueIterator<String, LayerStats> it = pending.prefixScan(prefix, new StringSerializer())) {
                while (it.hasNext()) {
                    KeyValue<String, LayerStats> e = it.next();
                    keys.add(e.key);
                    held.add(e.value);
                }
            }
            if (!held.isEmpty() && (held.get(0).getParts() != stats.getParts() || held.get(0).getKind() != stats.getKind())) {
                throw new RejectedRecordException(RejectReason.MALFORMED_STATS, "sample " + stats.getSampleId() + ": part "
                        + stats.getPart() + " says " + stats.getParts() + " parts of kind " + stats.getKind() + "; part "
                        + held.get(0).getPart() + " said " + held.get(0).getParts() + " of kind " + held.get(0).getKind());
            }
            if (held.size() + 1 < stats.getParts()) {
                pending.put(partKey, stats);
                metrics.partHeld(key);
                return;
            }
            held.add(stats);
            whole = merged(held);
            heldKeys = keys;
        }
        RoundSums current = layerSums.sums(state);
        // Added in place (the store writes the round's records back once per commit); straight from the record's
        // doubles when it fits the round as its samples so far did, else through the checks that say why not.
        boolean search = state.getPlanVersion() > 0;
        if (whole.getKind() != (search ? PartialsKind.SEARCH : PartialsKind.STATISTICS)
                || !current.addIfFits(whole, search, QuantScheme.parse(state.getScheme()).staticActivations())) {
            CalibrationSums sample = checkedSums(whole, state, current);
            current.add(sample);
        }
        heldKeys.forEach(pending::delete);
        layerSums.changed(record.key());
        state.setSamples(current.samples());
        long now = context.currentSystemTimeMs();
        long eventTime = stats.getEventTime().toEpochMilli();
        if (state.getOpenedAtMs() == 0) {
            state.setOpenedAtMs(now);
            state.setFirstEventTime(eventTime);
        }
        state.setFirstEventTime(Math.min(state.getFirstEventTime(), eventTime));
        state.setLastEventTime(Math.max(state.getLastEventTime(), eventTime));
        state.getDomains().merge(stats.getDomain(), 1L, Long::sum);
        seen.put(seenKey, state.getRound());
        metrics.summed(key);
        if (state.getSamples() >= settings.roundSamples()) {
            closeOrKeepOpen(state, "count", record.timestamp());
        } else {
            save(state);
        }
    }

    private void duplicate(RoundState state, RoundKey key, LayerStats stats) {
        state.setDuplicates(state.getDuplicates() + 1);
        save(state);
        metrics.duplicate(key);
        LOG.debug("{}: sample {} (part {} of {}) already summed or held under plan {}", key, stats.getSampleId(),
                stats.getPart(), stats.getParts(), state.getPlanVersion());
    }

    /** One record of a sample's parts: the first part's fields with every part's groups. */
    private static LayerStats merged(List<LayerStats> parts) {
        LayerStats first = parts.get(0);
        LayerStats out = LayerStats.newBuilder(first).build();
        List<dev.qig.schemas.GroupStatistics> statistics = new ArrayList<>();
        List<dev.qig.schemas.GroupErrors> errors = new ArrayList<>();
        List<dev.qig.schemas.InputRange> ranges = new ArrayList<>();
        List<dev.qig.schemas.GroupStatistics> vision = new ArrayList<>();
        java.util.BitSet seenParts = new java.util.BitSet();
        for (LayerStats p : parts) {
            seenParts.set(p.getPart());
            statistics.addAll(p.getStatistics());
            errors.addAll(p.getErrors());
            ranges.addAll(p.getRanges());
            vision.addAll(p.getVision());
        }
        if (seenParts.cardinality() != first.getParts()) {
            throw new RejectedRecordException(RejectReason.MALFORMED_STATS, "sample " + first.getSampleId() + ": parts "
                    + seenParts + " of " + first.getParts());
        }
        out.setStatistics(statistics);
        out.setErrors(errors);
        out.setRanges(ranges);
        out.setVision(vision);
        out.setPart(0);
        out.setParts(1);
        return out;
    }

    /** Keeps a round's state; it and its progress summary are written to their stores at the next commit. */
    private void save(RoundState s) {
        rounds.save(s);
    }

    /** The sample's sums, after checking that they fit the round: kind, groups and channels. */
    private CalibrationSums checkedSums(LayerStats stats, RoundState state, RoundSums round) {
        boolean search = state.getPlanVersion() > 0;
        PartialsKind expected = search ? PartialsKind.SEARCH : PartialsKind.STATISTICS;
        String who = "sample " + stats.getSampleId();
        if (stats.getKind() != expected) {
            throw new RejectedRecordException(RejectReason.MALFORMED_STATS, who + " is of kind " + stats.getKind()
                    + "; plan " + state.getPlanVersion() + " needs " + expected);
        }
        CalibrationSums sums;
        try {
            sums = Records.sums(stats);
        } catch (IllegalArgumentException e) {
            RejectReason reason = e.getCause() instanceof ArithmeticException ? RejectReason.NON_FINITE : RejectReason.MALFORMED_STATS;
            throw new RejectedRecordException(reason, who + ": " + e.getMessage(), e);
        }
        if (search != sums.hasErrors()) {
            throw new RejectedRecordException(RejectReason.MALFORMED_STATS, who + ": kind " + stats.getKind()
                    + (search ? " without" : " with") + " error sums");
        }
        // The groups and channel counts must be those of the round so far (or of the plan).
        Map<GroupKey, Integer> channels = new TreeMap<>();
        if (state.getPlan() != null) {
            channels.putAll(planChannels(state));
        } else if (state.getSamples() > 0) {
            channels.putAll(round.statisticsChannels());
        }
        if (!channels.isEmpty()) {
            Map<GroupKey, Integer> got = new TreeMap<>();
            sums.statistics().forEach((k, s) -> got.put(k, s.channels()));
            if (!got.equals(channels)) {
                throw new RejectedRecordException(RejectReason.MALFORMED_STATS, who + ": groups " + describe(got)
                        + " do not match the round's " + describe(channels));
            }
            if (search && !sums.errors().keySet().equals(channels.keySet())) {
                throw new RejectedRecordException(RejectReason.MALFORMED_STATS, who + ": error sums for "
                        + sums.errors().keySet() + ", the plan searches " + channels.keySet());
            }
        }
        // Static schemes calibrate their activation scales from every sample's ranges; a sample without them
        // would leave the round's maximum short.
        boolean ranges = dev.qig.quant.QuantScheme.parse(state.getScheme()).staticActivations();
        if (ranges == sums.ranges().isEmpty()) {
            throw new RejectedRecordException(RejectReason.MALFORMED_STATS, who + (ranges
                    ? ": no input ranges, which static scheme " + state.getScheme() + " calibrates from"
                    : ": input ranges for scheme " + state.getScheme() + ", which is not static"));
        }
        if (ranges && state.getSamples() > 0) {
            Map<GroupKey, Integer> want = round.rangeChannels();
            Map<GroupKey, Integer> got = new TreeMap<>();
            sums.ranges().forEach((k, r) -> got.put(k, r.channels()));
            if (!got.equals(want)) {
                throw new RejectedRecordException(RejectReason.MALFORMED_STATS, who + ": input ranges " + describe(got)
                        + " do not match the round's " + describe(want));
            }
        }
        // Vision-token statistics are a subset of a group's tokens: same group, same channels, no more tokens.
        for (Map.Entry<GroupKey, dev.qig.quant.GroupStatistics> e : sums.vision().entrySet()) {
            dev.qig.quant.GroupStatistics all = sums.statistics().get(e.getKey());
            if (all == null || all.channels() != e.getValue().channels() || e.getValue().tokens() > all.tokens()) {
                throw new RejectedRecordException(RejectReason.MALFORMED_STATS, who + ": vision statistics of "
                        + e.getKey() + " (" + e.getValue().channels() + " channels, " + e.getValue().tokens()
                        + " tokens) do not fit its statistics");
            }
        }
        return sums;
    }

    /**
     * The channel count of every group the round's plan searches, decoded once per round key and plan
     * (decoding the plan's mu for every record was a hot spot: issue 20, "conversions on the hot path").
     */
    private Map<GroupKey, Integer> planChannels(RoundState state) {
        String id = state.getRoundKey() + "#" + state.getPlanVersion();
        Map<GroupKey, Integer> cached = planChannels.get(id);
        if (cached == null) {
            planChannels.keySet().removeIf(old -> old.startsWith(state.getRoundKey() + "#")); // the older plans'
            cached = new TreeMap<>();
            for (dev.qig.schemas.PlanGroup g : state.getPlan().getGroups()) {
                cached.put(Records.groupKey(g.getLayer(), g.getGroup()), g.getMu().size());
            }
            planChannels.put(id, cached);
        }
        return cached;
    }

    private static String describe(Map<GroupKey, Integer> channels) {
        List<String> parts = new ArrayList<>();
        channels.forEach((k, c) -> parts.add(k + "(" + c + ")"));
        return parts.toString();
    }

    private void closeExpired(long now) {
        List<RoundState> due = new ArrayList<>();
        for (RoundState s : rounds.states()) {
            if (s.getSamples() > 0 && now - s.getOpenedAtMs() >= settings.maxDurationMs()) {
                due.add(s);
            }
        }
        for (RoundState s : due) {
            closeOrKeepOpen(s, "time", now);
        }
    }

    /**
     * Closes the round; if computing its outputs fails, nothing of the close is applied: the round
     * stays open with every sample summed (none is dead-lettered for it), the failure is logged once
     * per round and counted, and the next record or time check tries again.
     */
    private void closeOrKeepOpen(RoundState state, String closedBy, long timestamp) {
        try {
            close(state, closedBy, timestamp);
        } catch (RuntimeException e) {
            RoundKey key = RoundKey.parse(state.getRoundKey());
            metrics.roundCloseFailed(key);
            if (failedCloses.add(state.getRoundKey() + "#" + state.getRound())) {
                LOG.error("{}: round {} cannot close ({}); it stays open with its {} samples and is tried again with "
                        + "the next record", key, state.getRound(), e.toString(), state.getSamples(), e);
            }
            save(state);
        }
    }

    /**
     * Closes a round. A round under a plan is first checked for drift against the configs in force;
     * it emits a config per method when it calibrates (every round under every-round; under on-drift
     * the first round under a plan); a confirmed drift emits a DriftEvent. A new plan follows the
     * statistics round, a confirmed drift, and under every-round every {@code planRefreshRounds}
     * search rounds. Then the next round starts.
     */
    private void close(RoundState state, String closedBy, long timestamp) {
        // Everything the close writes and sends is computed first and applied at the end, so that a failure
        // while computing leaves no half-closed round (some configs sent, the next round not started).
        List<Runnable> effects = new ArrayList<>();
        RoundKey key = RoundKey.parse(state.getRoundKey());
        CalibrationSums sums = layerSums.sums(state).toSums();
        CalibrationSettings engineSettings = Records.settings(state.getSettings(), key.scheme());
        Instant now = Instant.ofEpochMilli(context.currentSystemTimeMs());
        boolean searchRound = state.getPlanVersion() > 0;
        boolean everyRound = settings.policy() == RequantizePolicy.EVERY_ROUND;
        // Under on-drift a plan is calibrated once, by the first round under it (the plan is built
        // from round fromRound, so the first round under it is the next one).
        boolean calibrates = searchRound && (everyRound || state.getRound() == state.getPlan().getFromRound() + 1);
        DriftCheck check = null;
        DriftMonitor.Measurement drift = null;
        QuantConfig distortion = null;
        Set<Method> served = new TreeSet<>(Records.methods(state.getSettings()));
        // The scale searches come from the sums; GPTQ's methods are a job over the round's samples.
        Set<Method> methods = new TreeSet<>(served.stream().filter(Method::searchesScales).toList());
        if (searchRound) {
            CalibrationPlan plan = Records.plan(state.getPlan());
            // Measured before this round's configs replace the ones in force.
            drift = DriftMonitor.measure(sums, plan, engineSettings, configsInForce(key, state, methods));
            boolean over = drift.regretOver(settings.drift()) || drift.muShiftOver(settings.drift())
                    || drift.visionShiftOver(settings.drift());
            // Under on-drift a calibrating round's configs supersede the ones it measured: it starts the count afresh.
            int roundsOver = over && (everyRound || !calibrates) ? state.getRoundsOverDriftThreshold() + 1 : 0;
            check = driftCheck(state, drift, roundsOver);
            if (calibrates) {
                Map<String, String> provenance = provenance(state, closedBy);
                for (Method m : methods) {
                    QuantConfig config = searcher.search(m, sums, plan, engineSettings, key.model(), state.getRound(),
                            state.getRound(), provenance);
                    dev.qig.schemas.QuantConfig record = Records.configRecord(config, state.getSettings(),
                            state.getPlanVersion(), state.getSamples(), now);
                    effects.add(() -> {
                        configs.put(key.configKey(m), record);
                        context.forward(new Record<>(key.configKey(m), record, timestamp), CONFIGS_SINK);
                        metrics.configEmitted(key, m.id());
                    });
                    if (m == settings.distortionMethod()) {
                        distortion = config;
                    }
                }
                effects.addAll(gptqJobs(key, state, served, sums, plan, engineSettings, provenance, now, timestamp));
            }
        }
        boolean driftConfirmed = check != null && check.getRoundsOver() >= settings.drift().consecutiveRounds();
        int refresh = settings.planRefreshRounds();
        long searchRounds = state.getRound() - 1;
        boolean newPlan = !searchRound || driftConfirmed
                || (everyRound && refresh > 0 && searchRounds % refresh == 0);
        long nextVersion = newPlan ? state.getPlanVersion() + 1 : state.getPlanVersion();
        if (driftConfirmed) {
            // The check keeps the count that confirmed the drift (what qig_drift_rounds_over shows); the next
            // round counts from 0.
            check.setDriftConfirmed(true);
            DriftEvent event = driftEvent(key, state, drift, nextVersion, now);
            effects.add(() -> {
                context.forward(new Record<>(key.modelSchemeKey(), event, timestamp), DRIFT_SINK);
                metrics.driftEvent(key, event.getReason());
                LOG.info("{}: drift confirmed in round {} ({}); plan {} follows", key, state.getRound(), event.getReason(),
                        nextVersion);
            });
        }
        RoundState after = RoundStates.fresh(key, state.getSettings());
        after.setRound(state.getRound() + 1);
        after.setLastDriftCheck(check);
        after.setRoundsOverDriftThreshold(check == null || driftConfirmed ? 0 : check.getRoundsOver());
        if (newPlan) {
            boolean distorted = engineSettings.needsDistortedStream();
            if (distorted && distortion == null && searchRound && methods.contains(settings.distortionMethod())) {
                // A monitoring round emitted no configs; the new plan still needs this round's distortion config.
                distortion = searcher.search(settings.distortionMethod(), sums, Records.plan(state.getPlan()),
                        engineSettings, key.model(), state.getRound(), state.getRound(), provenance(state, closedBy));
            }
            CalibrationPlan next = CalibrationPlan.from(nextVersion, sums, distorted ? distortion : null);
            dev.qig.schemas.CalibrationPlan planRecord = Records.planRecord(next, key, state.getSettings(),
                    state.getRound(), state.getSamples(), now);
            // The evaluator reads the reason from the configs calibrated under the plan (provenance planReason).
            planRecord.setReason(!searchRound ? "statistics" : driftConfirmed ? "drift" : "refresh");
            effects.add(() -> {
                context.forward(new Record<>(key.toString(), planRecord, timestamp), PLANS_SINK);
                metrics.planPublished(key);
            });
            // Records of the old plan are stale from now on: their sample ids need not be remembered, and parts
            // of samples still incomplete can never be summed (their remaining parts will be rejected as stale).
            effects.add(() -> {
                forgetSeen(key.toString() + "|" + state.getPlanVersion() + "|");
                int dropped = forgetPending(key.toString() + "|" + state.getPlanVersion() + "|");
                if (dropped > 0) {
                    LOG.warn("{}: {} held parts of samples incomplete under plan {} dropped with the plan", key, dropped,
                            state.getPlanVersion());
                }
            });
            after.setPlanVersion(nextVersion);
            after.setPlan(planRecord);
        } else {
            // Same plan: a sample summed under it stays a duplicate for dedup.rounds rounds; older ids are forgotten,
            // so that the store stays bounded however long the plan lasts.
            after.setPlanVersion(state.getPlanVersion());
            after.setPlan(state.getPlan());
            effects.add(() -> forgetSeenBefore(key.toString() + "|" + state.getPlanVersion() + "|",
                    after.getRound() - settings.dedupRounds() + 1));
        }
        long[] sizes = LOG.isInfoEnabled() ? RoundStates.encodedSizes(state, sums) : new long[2];
        effects.forEach(Runnable::run);
        LOG.info("{}: round {} closed by {} with {} samples{}{}; its sums were {} KB in per-layer records of at most {} KB",
                key, state.getRound(), closedBy, state.getSamples(),
                calibrates ? "; configs emitted" : searchRound ? "; monitoring" : "",
                newPlan ? "; plan " + after.getPlanVersion() + " published" : "", sizes[1] / 1024, sizes[0] / 1024);
        layerSums.clear(state.getRoundKey());
        if (check != null) {
            LOG.info("{}: round {} drift: median {} regret {} (max {}), median mu shift {} (max {}), vision shift {}; {} of {} "
                    + "rounds over (thresholds {}, {}, {})", key, state.getRound(), check.getMethod(),
                    format(check.getMedianRegret()), format(check.getMaxRegret()), format(check.getMedianMuShift()),
                    format(check.getMaxMuShift()), format(check.getVisionShift()),
                    check.getRoundsOver(),
                    settings.drift().consecutiveRounds(), settings.drift().regret(), settings.drift().muShift(),
                    settings.drift().visionShift());
        }
        save(after);
        metrics.roundClosed(key, closedBy);
    }

    /**
     * The sends of one GptqJob per GPTQ method the round serves: the round's sample ids (those summed in this
     * round under its plan), sorted, and for a static scheme the round's activation scales of
     * unscaled weights. Emitted with the round's other outputs, so a job exists exactly when its
     * round closed.
     */
    private List<Runnable> gptqJobs(RoundKey key, RoundState state, Set<Method> served, CalibrationSums sums,
                                    CalibrationPlan plan, CalibrationSettings engineSettings, Map<String, String> provenance,
                                    Instant now, long timestamp) {
        List<Method> gptq = served.stream().filter(Method::roundsWithGptq).toList();
        List<Runnable> out = new ArrayList<>();
        if (gptq.isEmpty()) {
            return out;
        }
        List<String> ids = new ArrayList<>();
        String prefix = key + "|" + state.getPlanVersion() + "|";
        try (KeyValueIterator<String, Long> it = seen.prefixScan(prefix, new StringSerializer())) {
            while (it.hasNext()) {
                KeyValue<String, Long> e = it.next();
                if (e.value == state.getRound()) {
                    ids.add(e.key.substring(prefix.length()));
                }
            }
        }
        Map<GroupKey, Float> inputScales = key.scheme().staticActivations()
                ? searcher.search(Method.RTN, sums, plan, engineSettings, key.model(), state.getRound(), state.getRound(),
                        provenance).inputScales()
                : Map.of();
        for (Method m : gptq) {
            dev.qig.schemas.GptqJob job = Records.gptqJob(key, m, state.getSettings(), state.getRound(),
                    state.getPlanVersion(), ids, inputScales, provenance, now);
            out.add(() -> {
                context.forward(new Record<>(key.configKey(m), job, timestamp), GPTQ_JOBS_SINK);
                LOG.info("{}: round {} GPTQ job {} on {} samples", key, state.getRound(), job.getJobId(), ids.size());
            });
        }
        return out;
    }

    /**
     * Per method, the config whose alpha is in force: the promoted active config when it is of that
     * method, for this round key's settings, and built under the current plan (so its alphas mean
     * the scales this round's errors were computed with); else the method's last emitted config.
     * Under on-drift the active config of an older plan is not measured: the re-quantized configs
     * are awaiting the evaluator's decision, and measuring the old one would re-trigger the drift
     * that has already been answered.
     */
    private Map<Method, QuantConfig> configsInForce(RoundKey key, RoundState state, Set<Method> methods) {
        Map<Method, QuantConfig> out = new java.util.EnumMap<>(Method.class);
        ActiveConfig promoted = active.get(key.modelSchemeKey());
        for (Method m : methods) {
            dev.qig.schemas.QuantConfig c = configs.get(key.configKey(m));
            if (promoted != null) {
                dev.qig.schemas.QuantConfig p = promoted.getConfig();
                if (Method.parse(p.getMethod()) == m && RoundKey.settingsId(p.getSettings()).equals(key.settings())
                        && p.getPlanVersion() == state.getPlanVersion()) {
                    c = p;
                }
            }
            if (c != null) {
                out.put(m, Records.config(c));
            }
        }
        return out;
    }

    private DriftCheck driftCheck(RoundState state, DriftMonitor.Measurement m, int roundsOver) {
        Method method = settings.drift().method();
        List<GroupDriftCheck> groups = new ArrayList<>();
        m.muShifts().forEach((k, shift) -> {
            Double regret = m.regrets(method).get(k);
            groups.add(new GroupDriftCheck(k.layer(), k.group().id(), nullIfNaN(regret), shift));
        });
        Map<String, Double> byMethod = new TreeMap<>();
        m.regrets().keySet().forEach(x -> {
            Double r = nullIfNaN(m.maxRegret(x));
            if (r != null) {
                byMethod.put(x.id(), r);
            }
        });
        return DriftCheck.newBuilder()
                .setRound(state.getRound())
                .setPlanVersion(state.getPlanVersion())
                .setMethod(method.id())
                .setMaxRegret(nullIfNaN(m.maxRegret(method)))
                .setMaxMuShift(m.muShifts().isEmpty() ? 0.0 : m.maxMuShift())
                .setMedianRegret(nullIfNaN(m.medianRegret(method)))
                .setMedianMuShift(m.muShifts().isEmpty() ? 0.0 : m.medianMuShift())
                .setVisionShift(nullIfNaN(m.visionShift()))
                .setMaxRegretByMethod(byMethod)
                .setRoundsOver(roundsOver)
                .setDriftConfirmed(false)
                .setGroups(groups)
                .build();
    }

    private DriftEvent driftEvent(RoundKey key, RoundState state, DriftMonitor.Measurement m, long newPlanVersion,
                                  Instant now) {
        DriftThresholds t = settings.drift();
        boolean regret = m.regretOver(t);
        boolean shift = m.muShiftOver(t);
        boolean vision = m.visionShiftOver(t);
        List<GroupDrift> groups = new ArrayList<>();
        m.muShifts().forEach((k, muShift) -> {
            if (m.over(k, t)) {
                groups.add(new GroupDrift(k.layer(), k.group().id(), m.regrets(t.method()).getOrDefault(k, Double.NaN),
                        muShift));
            }
        });
        return DriftEvent.newBuilder()
                .setModel(key.model())
                .setScheme(key.scheme().id())
                .setRound(state.getRound())
                .setPlanVersion(state.getPlanVersion())
                .setReason(DriftMonitor.reason(regret, shift, vision))
                .setThreshold(regret ? t.regret() : shift ? t.muShift() : t.visionShift())
                .setConsecutiveRounds(t.consecutiveRounds())
                .setGroups(groups)
                .setDomains(new TreeMap<>(state.getDomains()))
                .setNewPlanVersion(newPlanVersion)
                .setRoundKey(key.toString())
                .setMethod(t.method().id())
                .setRegretThreshold(t.regret())
                .setMuShiftThreshold(t.muShift())
                .setVisionShift(nullIfNaN(m.visionShift()))
                .setVisionShiftThreshold(t.visionShift())
                .setDetectedAt(now)
                .build();
    }

    private static Double nullIfNaN(Double v) {
        return v == null || v.isNaN() ? null : v;
    }

    private static String format(Double v) {
        return v == null ? "n/a" : String.format(java.util.Locale.ROOT, "%.4f", v);
    }

    private Map<String, String> provenance(RoundState state, String closedBy) {
        Map<String, String> p = new TreeMap<>();
        p.put("driver", "stream");
        p.put("aggregator", settings.instanceId());
        p.put("closedBy", closedBy);
        p.put("samples", Long.toString(state.getSamples()));
        p.put("duplicatesSkipped", Long.toString(state.getDuplicates()));
        p.put("firstEventTime", Instant.ofEpochMilli(state.getFirstEventTime()).toString());
        p.put("lastEventTime", Instant.ofEpochMilli(state.getLastEventTime()).toString());
        List<String> domains = new ArrayList<>();
        new TreeMap<>(state.getDomains()).forEach((d, n) -> domains.add(d + "=" + n));
        p.put(Records.PROVENANCE_DOMAINS, String.join(",", domains));
        if (state.getPlan() != null) {
            p.put(Records.PROVENANCE_PLAN_REASON, state.getPlan().getReason());
        }
        return p;
    }

    /** Sample ids of a plan that has ended can never be duplicates again (its records are stale). */
    private void forgetSeen(String prefix) {
        RoundStates.deleteByPrefix(seen, prefix);
    }

    /** Forgets the sample ids under a prefix that were summed in a round before {@code round}. */
    private void forgetSeenBefore(String prefix, long round) {
        List<String> old = new ArrayList<>();
        try (KeyValueIterator<String, Long> it = seen.prefixScan(prefix, new StringSerializer())) {
            while (it.hasNext()) {
                KeyValue<String, Long> e = it.next();
                if (e.value < round) {
                    old.add(e.key);
                }
            }
        }
        old.forEach(seen::delete);
    }

    /** Deletes the held parts under a prefix; returns how many. */
    private int forgetPending(String prefix) {
        return RoundStates.deleteByPrefix(pending, prefix);
    }
}
