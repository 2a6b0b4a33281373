package dev.qig.evaluator.internals;

import dev.qig.data.Domain;
import dev.qig.data.ImageCodec;
import dev.qig.data.QuestionType;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VqaSample;
import dev.qig.evaluator.EvaluatorConfig;
import dev.qig.kafka.clients.ServiceClients;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.schemas.CalibrationSample;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The labelled questions every config is evaluated on, fixed for the life of the process, grouped
 * by domain in the configured domain order: the synthetic held-out sets, or the labelled samples of
 * a topic read from its beginning to its end at start.
 */
public final class EvalSet {

    private static final Logger LOG = LoggerFactory.getLogger(EvalSet.class);

    private EvalSet() {}

    public static List<VqaSample> load(EvaluatorConfig config, AvroDeserializer<CalibrationSample> deserializer) {
        List<VqaSample> out = switch (config.evalSource()) {
            case SYNTHETIC -> synthetic(config.evalDomains(), config.questionsPerDomain());
            case TOPIC -> fromTopic(config, deserializer);
        };
        if (out.isEmpty()) {
            String source = config.evalSource() == EvaluatorConfig.EvalSource.TOPIC
                    ? "topic " + config.evalTopic() + ": no readable sample with an inline image of these domains"
                    : "synthetic";
            throw new IllegalStateException("the evaluation set is empty (source " + source + ", domains "
                    + config.evalDomains() + ")");
        }
        return out;
    }

    /** The first {@code perDomain} questions of each domain's held-out set. */
    public static List<VqaSample> synthetic(List<Domain> domains, int perDomain) {
        SyntheticWorld world = new SyntheticWorld();
        List<VqaSample> out = new ArrayList<>();
        for (Domain d : domains) {
            List<VqaSample> set = world.evalSet(d);
            out.addAll(set.subList(0, Math.min(perDomain, set.size())));
        }
        return out;
    }

    /**
     * Labelled samples of the eval topic, read from the beginning to the end offsets at call time;
     * per domain the first {@code perDomain} in sample id order (a redelivered id counts once).
     * Samples that do not decode, or whose domain is not one of the evaluated ones, are skipped and logged.
     */
    private static List<VqaSample> fromTopic(EvaluatorConfig config, AvroDeserializer<CalibrationSample> deserializer) {
        String topic = config.evalTopic();
        Map<Domain, TreeMap<String, VqaSample>> byDomain = new EnumMap<>(Domain.class);
        int[] skipped = {0};
        int[] otherDomains = {0};
        ServiceClients.readToEnd(config, topic, "qig-evaluator-evalset-" + config.instanceId(), r -> {
            try {
                VqaSample s = sample(deserializer.deserialize(r.topic(), r.value()));
                if (config.evalDomains().contains(s.domain())) {
                    TreeMap<String, VqaSample> kept = byDomain.computeIfAbsent(s.domain(), d -> new TreeMap<>());
                    kept.put(s.id(), s);
                    if (kept.size() > config.questionsPerDomain()) {
                        kept.pollLastEntry(); // only the first ids are evaluated: memory stays bounded on a long topic
                    }
                } else {
                    otherDomains[0]++;
                }
            } catch (RuntimeException e) {
                skipped[0]++;
                LOG.warn("eval topic {}-{}@{}: skipped: {}", r.topic(), r.partition(), r.offset(), e.getMessage());
            }
        });
        List<VqaSample> out = new ArrayList<>();
        for (Domain d : config.evalDomains()) {
            List<VqaSample> set = new ArrayList<>(byDomain.getOrDefault(d, new TreeMap<>()).values());
            out.addAll(set.subList(0, Math.min(config.questionsPerDomain(), set.size())));
        }
        LOG.info("eval set from {}: {} questions, {} records skipped, {} samples of other domains skipped", topic,
                out.size(), skipped[0], otherDomains[0]);
        return out;
    }

    /**
     * A labelled sample as a question. CalibrationSample carries no question type and EvalResult
     * reports per domain only, so the type is a placeholder that nothing reads.
     */
    static VqaSample sample(CalibrationSample s) {
        if (s.getImage() == null) {
            throw new IllegalArgumentException("sample " + s.getSampleId() + " has no inline image");
        }
        ByteBuffer b = s.getImage().duplicate();
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        float[] chw = ImageCodec.decode(bytes, SyntheticWorld.IMAGE_SIZE);
        return new VqaSample(s.getSampleId(), Domain.parse(s.getDomain()), QuestionType.EXISTS, chw, s.getPrompt(),
                s.getAnswer());
    }
}
