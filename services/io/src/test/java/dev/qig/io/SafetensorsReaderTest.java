package dev.qig.io;

import static dev.qig.io.SafetensorsWriterTest.fileBytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class SafetensorsReaderTest {

    @TempDir
    Path dir;

    private Path writeBytes(byte[] bytes) throws IOException {
        return Files.write(dir.resolve("f.safetensors"), bytes);
    }

    private static byte[] raw(int... bytes) {
        byte[] out = new byte[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            out[i] = (byte) bytes[i];
        }
        return out;
    }

    @Test
    void f32RoundTripIsBitExact() throws IOException {
        int[] bits = {
            0x00000000, 0x80000000, // +0, -0
            0x00000001, 0x807FFFFF, // smallest and largest-magnitude negative subnormal
            0x7F800000, 0xFF800000, // infinities
            0x7FC00000, 0x7FC12345, 0xFFC0BEEF, // quiet NaNs with payloads and sign
            0x3F800000, 0x7F7FFFFF, 0xC2F6E979 // 1, MAX_VALUE, -123.456
        };
        float[] values = new float[bits.length];
        for (int i = 0; i < bits.length; i++) {
            values[i] = Float.intBitsToFloat(bits[i]);
        }
        Path f = dir.resolve("rt.safetensors");
        SafetensorsWriter.write(f, null, List.of(TensorData.ofFloats("w", new long[] {3, 4}, values)));

        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            TensorData t = r.tensor("w");
            assertEquals(DType.F32, t.dtype());
            assertArrayEquals(new long[] {3, 4}, t.shape());
            ByteBuffer data = t.data();
            float[] back = t.toFloatArray();
            for (int i = 0; i < bits.length; i++) {
                assertEquals(bits[i], data.getInt(4 * i), "stored bits of element " + i);
                assertEquals(bits[i], Float.floatToRawIntBits(back[i]), "decoded bits of element " + i);
            }
        }
    }

    @Test
    void everyDtypeRoundTripsBytesAndMetadata() throws IOException {
        Map<String, String> meta = Map.of("format", "pt", "note", "ünïcødé \"quoted\" \\ / \n tab\t", "", "empty key");
        List<TensorData> ts = Arrays.stream(DType.values()).map(d -> {
            long[] shape = {2, 3};
            byte[] bytes = new byte[6 * d.byteSize()];
            for (int i = 0; i < bytes.length; i++) {
                bytes[i] = (byte) (31 * i + d.ordinal());
            }
            return new TensorData("layer." + d, d, shape, ByteBuffer.wrap(bytes));
        }).toList();
        Path f = dir.resolve("all.safetensors");
        SafetensorsWriter.write(f, meta, ts);

        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertEquals(meta, r.metadata());
            assertEquals(ts.size(), r.names().size());
            for (TensorData expected : ts) {
                assertEquals(expected, r.tensor(expected.name()));
                assertEquals(expected.dtype(), r.dtype(expected.name()));
                assertArrayEquals(expected.shape(), r.shape(expected.name()));
            }
        }
    }

    @Test
    void readsHandWrittenFile() throws IOException {
        // Offsets deliberately not in name order, and an empty tensor, to exercise the layout logic.
        String header = "{\"__metadata__\":{\"source\":\"by hand\"},"
                + "\"b.f16\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},"
                + "\"a.bf16\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[6,10]},"
                + "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[10,10]},"
                + "\"c.f32\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[10,14]},"
                + "\"d.i64\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[14,22]}}";
        byte[] data = raw(
                0x00, 0x3C, 0x00, 0xC0, 0xFF, 0x7B, // F16 1.0, -2.0, 65504
                0x80, 0x3F, 0x49, 0x40, // BF16 1.0, 3.140625
                0x00, 0x00, 0x20, 0xC1, // F32 -10.0 = 0xC1200000
                0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80); // I64 0x8000000000000201
        Path f = writeBytes(fileBytes(header, data));

        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertEquals(Map.of("source", "by hand"), r.metadata());
            assertEquals(List.of("a.bf16", "b.f16", "c.f32", "d.i64", "empty"), List.copyOf(r.names()));
            assertArrayEquals(new float[] {1.0f, -2.0f, 65504.0f}, r.tensor("b.f16").toFloatArray());
            assertArrayEquals(new float[] {1.0f, 3.140625f}, r.tensor("a.bf16").toFloatArray());
            assertArrayEquals(new long[] {1, 2}, r.shape("a.bf16"));
            TensorData scalar = r.tensor("c.f32");
            assertEquals(1, scalar.numel());
            assertArrayEquals(new float[] {-10.0f}, scalar.toFloatArray());
            assertEquals(0x8000000000000201L, r.tensor("d.i64").data().getLong());
            TensorData empty = r.tensor("empty");
            assertEquals(0, empty.numel());
            assertEquals(0, empty.toFloatArray().length);
        }
    }

    /** The example from the reference implementation's documentation: '<' = 60-byte header. */
    @Test
    void readsReferenceDocumentationExample() throws IOException {
        byte[] header = "{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}".getBytes();
        byte[] file = new byte[8 + header.length + 16];
        file[0] = '<';
        System.arraycopy(header, 0, file, 8, header.length);
        try (SafetensorsReader r = SafetensorsReader.open(writeBytes(file))) {
            assertEquals(Set.of("test"), r.names());
            assertEquals(Map.of(), r.metadata());
            TensorData t = r.tensor("test");
            assertEquals(DType.I32, t.dtype());
            assertArrayEquals(new long[] {2, 2}, t.shape());
            assertEquals(16, t.byteSize());
        }
    }

    @Test
    void missingTensorNamesItAndSuggestsCloseNames() throws IOException {
        Path f = dir.resolve("n.safetensors");
        List<TensorData> ts = IntStream.range(0, 20)
                .mapToObj(i -> TensorData.ofFloats("encoder.layers." + i + ".weight", new long[] {1}, new float[1]))
                .toList();
        SafetensorsWriter.write(f, null, ts);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> r.tensor("encoder.layer.3.weight"));
            assertTrue(e.getMessage().contains("'encoder.layer.3.weight'"), e.getMessage());
            assertTrue(e.getMessage().contains("encoder.layers.0.weight"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> r.shape("nope"));
        }
    }

    @Test
    void tensorsOutliveTheReaderButNewReadsFail() throws IOException {
        Path f = dir.resolve("c.safetensors");
        SafetensorsWriter.write(f, null, List.of(TensorData.ofFloats("x", new long[] {2}, new float[] {1f, 2f})));
        SafetensorsReader r = SafetensorsReader.open(f);
        TensorData x = r.tensor("x");
        r.close();
        assertArrayEquals(new float[] {1f, 2f}, x.toFloatArray());
        assertThrows(IllegalStateException.class, () -> r.tensor("x"));
    }

    static Stream<Arguments> corruptFiles() {
        String ok = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        byte[] eight = new byte[8];
        return Stream.of(
                Arguments.of("empty file", new byte[0], "too short"),
                Arguments.of("truncated length", raw(8, 0, 0), "too short"),
                Arguments.of("truncated data", Arrays.copyOf(fileBytes(ok, eight), 8 + ok.length() + 7), "out of range"),
                Arguments.of("truncated header", Arrays.copyOf(fileBytes(ok, eight), 8 + 20), "exceeds"),
                Arguments.of("header length beyond file", lengthPrefixed(1000, ok), "exceeds"),
                Arguments.of("header length 2^64-1", lengthPrefixed(-1, ok), "exceeds the limit"),
                Arguments.of("trailing bytes", fileBytes(ok, new byte[12]), "trailing"),
                Arguments.of("invalid JSON", fileBytes("{\"x\":{\"dtype\":\"F32\",}", eight), "not valid JSON"),
                Arguments.of("trailing JSON", fileBytes(ok + " {}", eight), "not valid JSON"),
                Arguments.of("not an object", fileBytes("[1]     ", new byte[0]), "start with '{'"),
                Arguments.of("duplicate key", fileBytes("{"
                        + "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        + "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", eight), "Duplicate field"),
                Arguments.of("unknown dtype",
                        fileBytes("{\"x\":{\"dtype\":\"F8_E4M3\",\"shape\":[8],\"data_offsets\":[0,8]}}", eight), "unknown dtype"),
                Arguments.of("shape/size mismatch",
                        fileBytes("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", eight), "needs 12 bytes"),
                Arguments.of("shape overflow", fileBytes(
                        "{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", eight),
                        "overflow"),
                Arguments.of("negative dimension",
                        fileBytes("{\"x\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", eight), "non-negative"),
                Arguments.of("fractional offset",
                        fileBytes("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8.0]}}", eight), "integers"),
                Arguments.of("reversed offsets",
                        fileBytes("{\"x\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[8,0]}}", eight), "out of range"),
                Arguments.of("overlapping offsets", fileBytes("{"
                        + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12]), "overlap"),
                Arguments.of("gap between tensors", fileBytes("{"
                        + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                        + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", new byte[12]), "gap"),
                Arguments.of("missing field",
                        fileBytes("{\"x\":{\"dtype\":\"F32\",\"shape\":[2]}}", eight), "data_offsets"),
                Arguments.of("unexpected field", fileBytes(
                        "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"stride\":[1]}}", eight),
                        "unexpected field"),
                Arguments.of("non-string metadata", fileBytes("{\"__metadata__\":{\"epoch\":3}}", new byte[0]),
                        "must be a string"));
    }

    private static byte[] lengthPrefixed(long n, String header) {
        byte[] file = fileBytes(header, new byte[8]);
        ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).putLong(0, n);
        return file;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corruptFiles")
    void rejectsCorruptFiles(String label, byte[] bytes, String reason) throws IOException {
        Path f = writeBytes(bytes);
        SafetensorsFormatException e = assertThrows(SafetensorsFormatException.class, () -> SafetensorsReader.open(f));
        assertTrue(e.getMessage().contains(reason), label + ": " + e.getMessage());
        assertTrue(e.getMessage().contains(f.toString()), "message names the file: " + e.getMessage());
    }

    @Test
    void rejectsHeaderThatIsNotUtf8() throws IOException {
        byte[] file = fileBytes("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]);
        file[10] = (byte) 0xFF; // inside the name "x": never valid in UTF-8
        Path f = writeBytes(file);
        SafetensorsFormatException e = assertThrows(SafetensorsFormatException.class, () -> SafetensorsReader.open(f));
        assertTrue(e.getMessage().contains("UTF-8"), e.getMessage());
    }
}
