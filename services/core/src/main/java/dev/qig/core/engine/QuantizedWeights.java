package dev.qig.core.engine;

import dev.qig.io.DType;
import dev.qig.io.SafetensorsReader;
import dev.qig.io.SafetensorsWriter;
import dev.qig.io.Sha256;
import dev.qig.io.TensorData;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Quantized decoder weights that a method computed itself instead of rounding them to nearest
 * (GPTQ): per linear, by name, its integer codes with their group scales, zero points and group
 * index. A config that carries such weights names them by a {@link QuantConfig.WeightsRef}; the
 * applier and the exporter read the codes from here, so the evaluated and the exported model are
 * the same numbers.
 *
 * <p>Stored as one safetensors file (metadata {@code format=qig-quantized-weights}): per linear
 * {@code <name>.codes} (I8, rows x columns; asymmetric codes shifted down by 2^(b-1) as
 * compressed-tensors stores them), {@code <name>.scales} (F32, rows x groups), {@code <name>.zeros}
 * (I8, same shift; asymmetric only) and {@code <name>.g_idx} (I32, one group per column).
 */
public final class QuantizedWeights {

    /** The format id in the file's metadata. */
    public static final String FORMAT = "qig-quantized-weights";

    /**
     * One linear's quantized weight.
     *
     * @param rows output rows
     * @param columns input columns
     * @param groupSize columns per group
     * @param codes rows x columns, row-major, in {@link GroupQuantizer}'s convention (unsigned when
     *     asymmetric, signed when symmetric)
     * @param scales per (row, group), row-major
     * @param zeros per (row, group), or null when symmetric
     * @param groupIndex per column, its group (column / groupSize unless columns were reordered)
     */
    public record Linear(int rows, int columns, int groupSize, int[] codes, float[] scales, int[] zeros, int[] groupIndex) {

        public Linear {
            if ((long) rows * columns != codes.length || groupIndex.length != columns || groupSize < 1
                    || columns % groupSize != 0 || scales.length != rows * (columns / groupSize)
                    || (zeros != null && zeros.length != scales.length)) {
                throw new IllegalArgumentException("inconsistent quantized weight of " + rows + " x " + columns);
            }
        }

        public int groups() {
            return columns / groupSize;
        }

        /** True when column c belongs to group c / groupSize (no act-order reordering). */
        public boolean contiguousGroups() {
            for (int c = 0; c < columns; c++) {
                if (groupIndex[c] != c / groupSize) {
                    return false;
                }
            }
            return true;
        }

        /** (code - zero) * scale in float32, rows x columns. */
        public float[] dequantized() {
            float[] out = new float[codes.length];
            int groups = groups();
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < columns; c++) {
                    int g = r * groups + groupIndex[c];
                    int q = codes[r * columns + c];
                    out[r * columns + c] = (zeros == null ? q : q - zeros[g]) * scales[g];
                }
            }
            return out;
        }

        /** The same numbers as {@link GroupQuantizer.Codes}; only for contiguous groups. */
        public GroupQuantizer.Codes asCodes() {
            if (!contiguousGroups()) {
                throw new IllegalStateException("groups of reordered columns (act-order) have no contiguous codes");
            }
            return new GroupQuantizer.Codes(rows, columns, groupSize, codes, scales, zeros);
        }
    }

    private final int bits;
    private final boolean symmetric;
    private final Map<String, Linear> linears;

    public QuantizedWeights(int bits, boolean symmetric, Map<String, Linear> linears) {
        if (bits < 2 || bits > 8) {
            throw new IllegalArgumentException("bits must be in [2, 8], got " + bits);
        }
        this.bits = bits;
        this.symmetric = symmetric;
        this.linears = Collections.unmodifiableMap(new TreeMap<>(linears));
        this.linears.forEach((name, l) -> {
            if ((l.zeros() == null) != symmetric) {
                throw new IllegalArgumentException(name + ": zero points must be present exactly when asymmetric");
            }
        });
    }

    public int bits() {
        return bits;
    }

    public boolean symmetric() {
        return symmetric;
    }

    /** Linears by name ({@code QuantizableLinear#name()}). */
    public Map<String, Linear> linears() {
        return linears;
    }

    /** Writes the file (atomically) and returns its SHA-256. */
    public String write(Path file) throws IOException {
        int offset = symmetric ? 0 : 1 << (bits - 1);
        List<TensorData> tensors = new ArrayList<>();
        for (Map.Entry<String, Linear> e : linears.entrySet()) {
            String n = e.getKey();
            Linear l = e.getValue();
            tensors.add(bytes(n + ".codes", new long[] {l.rows(), l.columns()}, l.codes(), offset));
            tensors.add(TensorData.ofFloats(n + ".scales", new long[] {l.rows(), l.groups()}, l.scales()));
            if (l.zeros() != null) {
                tensors.add(bytes(n + ".zeros", new long[] {l.rows(), l.groups()}, l.zeros(), offset));
            }
            ByteBuffer g = ByteBuffer.allocate(l.columns() * 4).order(ByteOrder.LITTLE_ENDIAN);
            g.asIntBuffer().put(l.groupIndex());
            tensors.add(new TensorData(n + ".g_idx", DType.I32, new long[] {l.columns()}, g));
        }
        SafetensorsWriter.write(file, Map.of("format", FORMAT, "bits", Integer.toString(bits),
                "symmetric", Boolean.toString(symmetric)), tensors);
        return Sha256.of(file);
    }

    /**
     * Reads a file, checking its SHA-256 first when {@code sha256} is not null.
     *
     * @throws IOException when the file is missing, not this format, or its digest differs
     */
    public static QuantizedWeights read(Path file, String sha256) throws IOException {
        if (sha256 != null) {
            String actual = Sha256.of(file);
            if (!actual.equals(sha256)) {
                throw new IOException(file + " has SHA-256 " + actual + ", the config names " + sha256);
            }
        }
        try (SafetensorsReader in = SafetensorsReader.open(file)) {
            Map<String, String> meta = in.metadata();
            if (!FORMAT.equals(meta.get("format"))) {
                throw new IOException(file + " is not a " + FORMAT + " file (format " + meta.get("format") + ")");
            }
            int bits = Integer.parseInt(Objects.requireNonNull(meta.get("bits"), "bits"));
            boolean symmetric = Boolean.parseBoolean(meta.get("symmetric"));
            int offset = symmetric ? 0 : 1 << (bits - 1);
            Map<String, Linear> linears = new TreeMap<>();
            for (String name : in.names()) {
                if (!name.endsWith(".codes")) {
                    continue;
                }
                String n = name.substring(0, name.length() - ".codes".length());
                long[] shape = in.shape(name);
                int rows = Math.toIntExact(shape[0]);
                int columns = Math.toIntExact(shape[1]);
                float[] scales = in.tensor(n + ".scales").toFloatArray();
                int groups = scales.length / rows;
                int[] zeros = symmetric ? null : ints(in.tensor(n + ".zeros"), offset);
                linears.put(n, new Linear(rows, columns, columns / groups, ints(in.tensor(name), offset), scales, zeros,
                        ints(in.tensor(n + ".g_idx"), 0)));
            }
            return new QuantizedWeights(bits, symmetric, linears);
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    private static TensorData bytes(String name, long[] shape, int[] values, int offset) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (values[i] - offset);
        }
        return new TensorData(name, DType.I8, shape, ByteBuffer.wrap(b));
    }

    private static int[] ints(TensorData t, int offset) throws IOException {
        ByteBuffer b = t.data().order(ByteOrder.LITTLE_ENDIAN);
        int[] out = new int[Math.toIntExact(t.numel())];
        switch (t.dtype()) {
            case I8 -> {
                for (int i = 0; i < out.length; i++) {
                    out[i] = b.get(b.position() + i) + offset;
                }
            }
            case I32 -> {
                for (int i = 0; i < out.length; i++) {
                    out[i] = b.getInt(b.position() + 4 * i) + offset;
                }
            }
            default -> throw new IOException(t.name() + " is " + t.dtype() + ", expected I8 or I32");
        }
        return out;
    }
}
