package dev.qig.evaluator.internals;

import dev.qig.quant.QuantConfig;
import dev.qig.quant.QuantScheme;
import dev.qig.kafka.dlq.RejectReason;
import dev.qig.kafka.dlq.RejectedRecordException;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.serde.AvroDecodingException;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.schemas.GroupChoice;

/**
 * Turns the bytes of a configs-topic record into the record and the engine's config, or says why
 * it cannot as a {@link RejectedRecordException}: bytes that are not Avro, an unknown schema id, an
 * unknown scheme or method, bit widths that contradict the scheme, scales that are not finite and
 * positive. Groups that do not fit the model are found when the config is applied.
 */
public final class ConfigDecoder {

    /** A config as read: the record (what an ActiveConfig carries) and the engine's object (what is applied). */
    public record Decoded(dev.qig.schemas.QuantConfig record, QuantConfig config) {}

    private final AvroDeserializer<dev.qig.schemas.QuantConfig> deserializer;

    public ConfigDecoder(AvroDeserializer<dev.qig.schemas.QuantConfig> deserializer) {
        this.deserializer = deserializer;
    }

    public Decoded decode(String topic, byte[] value) {
        if (value == null) {
            throw new RejectedRecordException(RejectReason.CORRUPT_AVRO, "a configs-topic record without a value");
        }
        dev.qig.schemas.QuantConfig r;
        try {
            r = deserializer.deserialize(topic, value);
        } catch (AvroDecodingException e) {
            RejectReason reason = RejectReason.of(e);
            throw new RejectedRecordException(reason, e.getMessage(), e);
        }
        return new Decoded(r, config(r));
    }

    /** The engine's config of a record, checked. */
    public static QuantConfig config(dev.qig.schemas.QuantConfig r) {
        QuantConfig c;
        try {
            c = Records.config(r);
        } catch (IllegalArgumentException e) {
            throw new RejectedRecordException(RejectReason.MALFORMED_CONFIG, "config " + r.getConfigId() + ": "
                    + e.getMessage(), e);
        }
        QuantScheme s = c.scheme();
        if (r.getWeightBits() != s.weightBits() || r.getGroupSize() != s.groupSize() || r.getSymmetric() != s.symmetric()
                || r.getActivationBits() != s.activationBits()) {
            throw new RejectedRecordException(RejectReason.MALFORMED_CONFIG, "config " + r.getConfigId() + ": W"
                    + r.getWeightBits() + " g" + r.getGroupSize() + (r.getSymmetric() ? " sym" : " asym") + " A"
                    + r.getActivationBits() + " is not scheme " + s.id());
        }
        for (GroupChoice g : r.getGroups()) {
            for (int i = 0; i < g.getScales().size(); i++) {
                float v = g.getScales().get(i);
                if (!(Float.isFinite(v) && v > 0)) {
                    throw new RejectedRecordException(RejectReason.MALFORMED_CONFIG, "config " + r.getConfigId()
                            + ": scale " + i + " of layer " + g.getLayer() + " group " + g.getGroup() + " is " + v
                            + " (scales must be finite and positive)");
                }
            }
        }
        return c;
    }
}
