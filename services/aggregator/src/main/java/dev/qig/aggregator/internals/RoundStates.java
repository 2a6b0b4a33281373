package dev.qig.aggregator.internals;

import dev.qig.core.quant.CalibrationSums;
import dev.qig.core.quant.ExactSum;
import dev.qig.core.quant.GroupErrors;
import dev.qig.core.quant.GroupKey;
import dev.qig.core.quant.GroupStatistics;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.records.RoundKey;
import dev.qig.schemas.EngineSettings;
import dev.qig.schemas.internal.ExactGroupErrors;
import dev.qig.schemas.internal.ExactGroupStatistics;
import dev.qig.schemas.internal.RoundState;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Between a round's exact sums and its state-store record (RoundState), losslessly. */
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
                .setStatistics(new ArrayList<>())
                .setErrors(new ArrayList<>())
                .setDuplicates(0)
                .build();
    }

    static CalibrationSums sums(RoundState s) {
        Map<GroupKey, GroupStatistics> statistics = new TreeMap<>();
        for (ExactGroupStatistics g : s.getStatistics()) {
            statistics.put(Records.groupKey(g.getLayer(), g.getGroup()), GroupStatistics.ofSums(exact(g.getAbsSum()),
                    g.getTokens(), exact(g.getGradVisionSum()), g.getGradVisionCount(), exact(g.getGradAnswerSum()),
                    g.getGradAnswerCount()));
        }
        Map<GroupKey, GroupErrors> errors = new TreeMap<>();
        for (ExactGroupErrors g : s.getErrors()) {
            errors.put(Records.groupKey(g.getLayer(), g.getGroup()), GroupErrors.ofSums(exact(g.getEAll()),
                    exact(g.getEAnswer()), exact(g.getEVision()), exact(g.getEQig()), g.getNAll(), g.getNAnswer(),
                    g.getNVision(), exact(g.getLambdaSum())));
        }
        return new CalibrationSums(statistics, errors, s.getSamples());
    }

    /** Writes sums (and their sample count) into the state. */
    static void setSums(RoundState s, CalibrationSums sums) {
        List<ExactGroupStatistics> statistics = new ArrayList<>();
        sums.statistics().forEach((k, g) -> statistics.add(ExactGroupStatistics.newBuilder()
                .setLayer(k.layer()).setGroup(k.group().id())
                .setAbsSum(records(g.absSum())).setTokens(g.tokens())
                .setGradVisionSum(record(g.gradVisionSum())).setGradVisionCount(g.gradVisionCount())
                .setGradAnswerSum(record(g.gradAnswerSum())).setGradAnswerCount(g.gradAnswerCount())
                .build()));
        List<ExactGroupErrors> errors = new ArrayList<>();
        sums.errors().forEach((k, g) -> errors.add(ExactGroupErrors.newBuilder()
                .setLayer(k.layer()).setGroup(k.group().id())
                .setEAll(records(g.eAll())).setEAnswer(records(g.eAnswer())).setEVision(records(g.eVision()))
                .setEQig(records(g.eQig()))
                .setNAll(g.nAll()).setNAnswer(g.nAnswer()).setNVision(g.nVision())
                .setLambdaSum(record(g.lambdaSum()))
                .build()));
        s.setStatistics(statistics);
        s.setErrors(errors);
        s.setSamples(sums.samples());
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
