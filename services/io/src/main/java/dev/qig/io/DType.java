package dev.qig.io;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * Element types of the safetensors format. The constant names are the exact dtype strings used in
 * the file header.
 */
public enum DType {
    F32(4, 7),
    F16(2, 4),
    BF16(2, 5),
    F64(8, 8),
    I64(8, 9),
    I32(4, 6),
    I16(2, 3),
    I8(1, 2),
    U8(1, 1),
    BOOL(1, 0);

    private final int byteSize;
    // Position in the reference (Rust) implementation's Dtype enum, which it declares in increasing
    // alignment order; the writer sorts by it so that every tensor's data stays naturally aligned.
    private final int referenceOrder;

    DType(int byteSize, int referenceOrder) {
        this.byteSize = byteSize;
        this.referenceOrder = referenceOrder;
    }

    /** Size of one element in bytes. */
    public int byteSize() {
        return byteSize;
    }

    int referenceOrder() {
        return referenceOrder;
    }

    /** True for the types {@link TensorData#toFloatArray()} can convert. */
    public boolean isFloatingPoint() {
        return this == F32 || this == F16 || this == BF16 || this == F64;
    }

    /**
     * Looks up a header dtype string (case-sensitive, as in the format).
     *
     * @throws IllegalArgumentException for a dtype this implementation does not know
     */
    public static DType fromCode(String code) {
        for (DType t : values()) {
            if (t.name().equals(code)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown dtype \"" + code + "\" (supported: "
                + Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", ")) + ")");
    }
}
