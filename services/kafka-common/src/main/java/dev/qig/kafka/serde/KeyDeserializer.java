package dev.qig.kafka.serde;

import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * Reads a record key written in either {@link KeyFormat}: Confluent's magic byte 0, a 4-byte schema
 * id, then an Avro string (a zig-zag length and exactly that many bytes of UTF-8) is an Avro key;
 * any other bytes are UTF-8 text (no key of qig-stream starts with the character U+0000). The shape
 * is checked instead of fetching the schema, so reading a key never waits for the registry. A
 * deployment can move its producers from one format to the other without its consumers noticing.
 */
public final class KeyDeserializer implements Deserializer<String> {

    @Override
    public String deserialize(String topic, byte[] data) {
        if (data == null) {
            return null;
        }
        if (data.length == 0 || data[0] != 0) {
            return new String(data, StandardCharsets.UTF_8);
        }
        // An Avro long: 7 bits per byte, least significant first, zig-zag encoded.
        long raw = 0;
        int shift = 0;
        int pos = 5;
        while (true) {
            if (pos >= data.length || shift > 35) {
                throw notAKey(topic);
            }
            byte b = data[pos++];
            raw |= (long) (b & 0x7f) << shift;
            shift += 7;
            if ((b & 0x80) == 0) {
                break;
            }
        }
        long length = (raw >>> 1) ^ -(raw & 1);
        if (length < 0 || pos + length != data.length) {
            throw notAKey(topic);
        }
        return new String(data, pos, (int) length, StandardCharsets.UTF_8);
    }

    private static SerializationException notAKey(String topic) {
        return new SerializationException("topic " + topic + ": a key starting with byte 0 that is not an Avro string "
                + "in Confluent's wire format (key.format avro) nor text");
    }
}
