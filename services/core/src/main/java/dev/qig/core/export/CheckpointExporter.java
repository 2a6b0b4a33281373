package dev.qig.core.export;

import ai.djl.ndarray.NDManager;
import dev.qig.core.quant.QuantConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Consumer;

/** SKELETON: being written. */
public final class CheckpointExporter implements AutoCloseable {

    /** How to export. */
    public static final class Options {
        boolean fakeQuantizeUnservable;
        long maxShardBytes = 1L << 30;
        Consumer<String> log = s -> { };

        public static Options defaults() {
            return new Options();
        }

        /** Export schemes no engine serves as float weights on their grid, labelled fake-quantized, instead of refusing them. */
        public Options fakeQuantizeUnservable(boolean on) {
            this.fakeQuantizeUnservable = on;
            return this;
        }

        public Options maxShardBytes(long bytes) {
            this.maxShardBytes = bytes;
            return this;
        }

        public Options log(Consumer<String> log) {
            this.log = log;
            return this;
        }
    }

    /** Loads the model at a checkpoint location (a folder or classpath:&lt;folder&gt;) to export configs of it. */
    public static CheckpointExporter open(String location, NDManager manager) throws IOException {
        throw new UnsupportedOperationException("being written");
    }

    /** The id of the loaded model (what a config's model field names). */
    public String modelId() {
        throw new UnsupportedOperationException("being written");
    }

    /** The checkpoint location the model was loaded from. */
    public String location() {
        throw new UnsupportedOperationException("being written");
    }

    /**
     * Writes the model with {@code config} applied to {@code out} (created; must be empty or absent).
     *
     * @throws UnservableSchemeException for a scheme no engine serves, unless options allow fake quantization
     * @throws IllegalArgumentException for a config of another model
     */
    public ExportedCheckpoint export(QuantConfig config, Path out, Options options) throws IOException {
        throw new UnsupportedOperationException("being written");
    }

    @Override
    public void close() {
    }
}
