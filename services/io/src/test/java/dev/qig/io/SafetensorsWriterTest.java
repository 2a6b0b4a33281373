package dev.qig.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsWriterTest {

    @TempDir
    Path dir;

    /** Expected file: 8-byte little-endian length, header text, data bytes. */
    static byte[] fileBytes(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
        out.writeBytes(h);
        out.writeBytes(data);
        return out.toByteArray();
    }

    private static byte[] f32Bytes(float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return b.array();
    }

    // The expected bytes below are what huggingface/safetensors' serialize() produces for the same
    // input (its own unit tests pin them), so these check compatibility, not just self-consistency.

    @Test
    void singleTensorMatchesReferenceSerialization() throws IOException {
        Path f = dir.resolve("a.safetensors");
        SafetensorsWriter.write(f, null,
                List.of(TensorData.ofFloats("attn.0", new long[] {1, 2, 3}, new float[] {0, 1, 2, 3, 4, 5})));
        // 64-byte header: already a multiple of 8, so no padding.
        byte[] expected = fileBytes("{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}",
                f32Bytes(0, 1, 2, 3, 4, 5));
        assertEquals(64, expected[0]);
        assertArrayEquals(expected, Files.readAllBytes(f));
    }

    @Test
    void headerIsSpacePaddedToMultipleOf8() throws IOException {
        Path f = dir.resolve("a.safetensors");
        SafetensorsWriter.write(f, Map.of(),
                List.of(TensorData.ofFloats("attn0", new long[] {1, 1, 2, 3}, new float[] {0, 1, 2, 3, 4, 5})));
        byte[] expected = fileBytes(
                "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ",
                f32Bytes(0, 1, 2, 3, 4, 5));
        assertEquals(72, expected[0]);
        assertArrayEquals(expected, Files.readAllBytes(f));
    }

    @Test
    void emptyFilesMatchReferenceSerialization() throws IOException {
        Path f = dir.resolve("e.safetensors");
        SafetensorsWriter.write(f, null, List.of());
        assertArrayEquals(fileBytes("{}      ", new byte[0]), Files.readAllBytes(f));

        SafetensorsWriter.write(f, Map.of("framework", "pt"), List.of());
        assertArrayEquals(fileBytes("{\"__metadata__\":{\"framework\":\"pt\"}}     ", new byte[0]),
                Files.readAllBytes(f));
    }

    private static List<TensorData> mixedDtypes() {
        List<TensorData> ts = new ArrayList<>();
        long[] three = {3};
        for (DType d : DType.values()) {
            ts.add(new TensorData("t_" + d.name().toLowerCase(), d, three, ByteBuffer.allocate(3 * d.byteSize())));
        }
        ts.add(TensorData.ofFloats("b", three, new float[3]));
        ts.add(TensorData.ofFloats("a", three, new float[3]));
        return ts;
    }

    /** The header JSON of a file, parsed independently of SafetensorsReader (key order preserved). */
    static JsonNode header(Path f) throws IOException {
        byte[] bytes = Files.readAllBytes(f);
        int n = (int) ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8, "header length is padded to a multiple of 8");
        return new ObjectMapper().readTree(new String(bytes, 8, n, StandardCharsets.UTF_8));
    }

    @Test
    void ordersByDescendingAlignmentThenNameAndKeepsDataAligned() throws IOException {
        Path f = dir.resolve("m.safetensors");
        SafetensorsWriter.write(f, null, mixedDtypes());

        JsonNode header = header(f);
        List<String> order = new ArrayList<>();
        header.fieldNames().forEachRemaining(order::add);
        assertEquals(List.of("t_i64", "t_f64", "a", "b", "t_f32", "t_i32", "t_bf16", "t_f16", "t_i16", "t_i8",
                "t_u8", "t_bool"), order);

        // Odd element counts would misalign what follows a 2-byte tensor if sorted by name only.
        for (String name : order) {
            JsonNode info = header.get(name);
            long begin = info.get("data_offsets").get(0).longValue();
            int size = DType.fromCode(info.get("dtype").textValue()).byteSize();
            assertEquals(0, begin % size, name + " misaligned at " + begin);
        }
    }

    @Test
    void outputIsIndependentOfInputOrder() throws IOException {
        List<TensorData> ts = mixedDtypes();
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("z", "1");
        meta.put("a", "2");
        Path first = dir.resolve("1.safetensors");
        SafetensorsWriter.write(first, meta, ts);

        Collections.shuffle(ts, new Random(7));
        Map<String, String> reversed = new LinkedHashMap<>();
        reversed.put("a", "2");
        reversed.put("z", "1");
        Path second = dir.resolve("2.safetensors");
        SafetensorsWriter.write(second, reversed, ts);

        assertArrayEquals(Files.readAllBytes(first), Files.readAllBytes(second));
    }

    @Test
    void replacesExistingFileAndLeavesNoTemporaries() throws IOException {
        Path f = dir.resolve("w.safetensors");
        Files.writeString(f, "old content");
        SafetensorsWriter.write(f, null, List.of(TensorData.ofFloats("x", new long[] {1}, new float[] {2f})));
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertArrayEquals(new float[] {2f}, r.tensor("x").toFloatArray());
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(f), files.toList());
        }
    }

    @Test
    void rejectsDuplicateAndReservedNamesWithoutTouchingTarget() throws IOException {
        Path f = dir.resolve("bad.safetensors");
        TensorData x = TensorData.ofFloats("x", new long[] {1}, new float[] {1f});
        assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.write(f, null, List.of(x, x)));
        TensorData reserved = TensorData.ofFloats("__metadata__", new long[] {1}, new float[] {1f});
        assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.write(f, null, List.of(reserved)));
        Map<String, String> nullValue = new LinkedHashMap<>();
        nullValue.put("k", null);
        assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.write(f, nullValue, List.of(x)));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(0, files.count());
        }
    }
}
