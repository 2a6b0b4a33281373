package dev.qig.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;

/**
 * Named tensors a model loads from: one safetensors file, a sharded checkpoint, or a view that
 * decodes either. Closing a source releases its files; closing a view leaves its source open.
 */
public interface TensorSource extends Closeable {

    /** Every tensor name, in name order. */
    Set<String> names();

    long[] shape(String name);

    DType dtype(String name);

    /** The tensor's bytes (memory-mapped where the source is a file). */
    TensorData tensor(String name) throws IOException;

    /** The file a tensor is in (for messages). */
    Path file(String name);
}
