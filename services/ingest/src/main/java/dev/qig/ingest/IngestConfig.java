package dev.qig.ingest;

import dev.qig.data.Domain;
import dev.qig.kafka.config.ServiceConfig;
import dev.qig.kafka.topics.Topics;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.common.config.ConfigException;

/**
 * The typed configuration of the ingest service, defined like Kafka's {@code StreamsConfig}: one
 * {@link ConfigDef} holds every key with its type, default, validator and doc (the common Kafka,
 * registry and topic keys of {@link ServiceConfig} plus the keys below), so validation, the
 * generated reference ({@code ConfigDocs}) and the {@code QIG_*} environment variables agree.
 */
public final class IngestConfig extends ServiceConfig {

    /** {@code source}: where samples come from, {@code synthetic} (default), {@code folder} or {@code jsonl}. */
    public static final String SOURCE = "source";
    /**
     * {@code synthetic.schedule}: the synthetic stream as comma-separated {@code domain:count}
     * segments streamed in order, e.g. {@code clean:64,cluttered:64}.
     */
    public static final String SYNTHETIC_SCHEDULE = "synthetic.schedule";
    /** {@code synthetic.seed}: seed of the synthetic world; segment {@code i} is generated with seed + i. */
    public static final String SYNTHETIC_SEED = "synthetic.seed";
    /** {@code folder.path}: the folder of {@code *.json} sample files; required when the source is {@code folder}. */
    public static final String FOLDER_PATH = "folder.path";
    /**
     * {@code jsonl.path}: the JSON-lines file (one sample per line, as VQA benchmarks ship); required when
     * the source is {@code jsonl}.
     */
    public static final String JSONL_PATH = "jsonl.path";
    /** {@code rate}: samples per second; 0 sends as fast as the broker takes them. */
    public static final String RATE = "rate";
    /** {@code source.name}: written to every sample's {@code source} field and the prefix of synthetic ids. */
    public static final String SOURCE_NAME = "source.name";
    /** {@code model}: the model id the samples are meant for; empty means every model. */
    public static final String MODEL = "model";

    /** The default schedule: 64 samples of each domain, in turn (four drifts in 256 samples). */
    public static final String DEFAULT_SCHEDULE = "clean:64,cluttered:64,lowlight:64,qmix:64";

    /** Where samples come from. */
    public enum SourceKind {
        /** The project's synthetic world, following {@value #SYNTHETIC_SCHEDULE}. */
        SYNTHETIC,
        /** A folder of JSON sample files naming image files. */
        FOLDER,
        /** A JSON-lines file, one sample per line, naming image files. */
        JSONL;

        public String id() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** One segment of the synthetic schedule: {@code count} samples of {@code domain}. */
    public record Segment(Domain domain, int count) {
        @Override
        public String toString() {
            return domain.id() + ":" + count;
        }
    }

    /** The default {@value ServiceConfig#METRICS_PORT} of the ingest (one port per service: 9401-9404). */
    public static final int DEFAULT_METRICS_PORT = 9401;

    private static final ConfigDef CONFIG = commonDefinition(DEFAULT_METRICS_PORT, Topics.Topic.SAMPLES, Topics.Topic.DLQ)
            .define(SOURCE, Type.STRING, SourceKind.SYNTHETIC.id(),
                    ConfigDef.CaseInsensitiveValidString.in(SourceKind.SYNTHETIC.id(), SourceKind.FOLDER.id(),
                            SourceKind.JSONL.id()),
                    Importance.HIGH, "Where samples come from: 'synthetic' (the synthetic world, see "
                            + SYNTHETIC_SCHEDULE + "), 'folder' (the *.json files in " + FOLDER_PATH + ") or 'jsonl' "
                            + "(the lines of the file " + JSONL_PATH + ").")
            .define(SYNTHETIC_SCHEDULE, Type.STRING, DEFAULT_SCHEDULE, new ScheduleValidator(), Importance.MEDIUM,
                    "Synthetic stream: comma-separated domain:count segments sent in order (domains: clean, "
                            + "cluttered, lowlight, qmix; count at least 1). A change of domain between segments "
                            + "is a data drift.")
            .define(SYNTHETIC_SEED, Type.LONG, 2026L, Importance.LOW,
                    "Seed of the synthetic stream; segment i uses seed + i. The same seed and schedule give the "
                            + "same samples and ids.")
            .define(FOLDER_PATH, Type.STRING, "", Importance.MEDIUM,
                    "Folder of sample files when source=folder: every *.json file (in name order) is one sample "
                            + "{\"image\": path, \"prompt\", \"answer\", \"domain\", \"id\" (optional)}; image paths "
                            + "are relative to this folder unless absolute.")
            .define(JSONL_PATH, Type.STRING, "", Importance.MEDIUM,
                    "JSON-lines file when source=jsonl (a labelled set as VQA benchmarks ship it), read line by "
                            + "line: every non-blank line is one sample {\"image\": path, \"prompt\" (or \"question\", "
                            + "\"text\"), \"answer\" (a string, or an array of strings: the first is taken), \"domain\" "
                            + "(or \"category\"), \"id\" (or \"question_id\": a string or an integer; default "
                            + "<file name without extension>-<line number>)}. A line that cannot be a sample (not JSON, "
                            + "two names of one field, no prompt or answer, ...) goes to the dead-letter topic keyed "
                            + "<file name>:<line number>. Image paths are relative to the file's folder unless absolute.")
            .define(RATE, Type.DOUBLE, 0.0, new RateValidator(), Importance.MEDIUM,
                    "Samples per second; 0 sends as fast as the broker acknowledges.")
            .define(SOURCE_NAME, Type.STRING, "qig-ingest", new ConfigDef.NonEmptyString(), Importance.LOW,
                    "Written to each sample's source field; also the prefix of synthetic sample ids.")
            .define(MODEL, Type.STRING, "", Importance.MEDIUM,
                    "Model id the samples are meant for (the sample's model field); empty means every model "
                            + "the attributors serve.");

    private final SourceKind source;
    private final List<Segment> schedule;

    /**
     * @throws ConfigException when a value is invalid, {@value #FOLDER_PATH} is missing for the folder source or
     *                         {@value #JSONL_PATH} for the jsonl source
     */
    public IngestConfig(Map<?, ?> props) {
        super(CONFIG, props);
        this.source = SourceKind.valueOf(getString(SOURCE).strip().toUpperCase(Locale.ROOT));
        this.schedule = parseSchedule(SYNTHETIC_SCHEDULE, getString(SYNTHETIC_SCHEDULE));
        // A dependency between keys, which a ConfigDef validator (one key at a time) cannot express.
        if (source == SourceKind.FOLDER && getString(FOLDER_PATH).isBlank()) {
            throw new ConfigException(FOLDER_PATH, getString(FOLDER_PATH), "required when " + SOURCE + "=folder");
        }
        if (source == SourceKind.JSONL && getString(JSONL_PATH).isBlank()) {
            throw new ConfigException(JSONL_PATH, getString(JSONL_PATH), "required when " + SOURCE + "=jsonl");
        }
    }

    /** Every key of the ingest service (common keys included): for validation, documentation and {@code ConfigSources}. */
    public static ConfigDef definition() {
        // A copy, so callers cannot add keys to the definition instances validate against.
        return new ConfigDef(CONFIG);
    }

    public SourceKind source() {
        return source;
    }

    /** The synthetic schedule, in order. */
    public List<Segment> schedule() {
        return schedule;
    }

    public long seed() {
        return getLong(SYNTHETIC_SEED);
    }

    /** The sample folder; only meaningful when {@link #source()} is {@link SourceKind#FOLDER}. */
    public Path folder() {
        return Path.of(getString(FOLDER_PATH).strip());
    }

    /** The JSON-lines file; only meaningful when {@link #source()} is {@link SourceKind#JSONL}. */
    public Path jsonlPath() {
        return Path.of(getString(JSONL_PATH).strip());
    }

    /** Samples per second, 0 for no limit. */
    public double rate() {
        return getDouble(RATE);
    }

    public String sourceName() {
        return getString(SOURCE_NAME).strip();
    }

    /** The model id to write on samples, or null for every model. */
    public String model() {
        String model = getString(MODEL).strip();
        return model.isEmpty() ? null : model;
    }

    static List<Segment> parseSchedule(String key, String text) {
        if (text == null || text.isBlank()) {
            throw new ConfigException(key, text, "needs at least one domain:count segment");
        }
        List<Segment> out = new ArrayList<>();
        for (String part : text.split(",", -1)) {
            String p = part.strip();
            int colon = p.indexOf(':');
            if (colon < 0) {
                throw new ConfigException(key, text, "segment '" + p + "' is not domain:count");
            }
            Domain domain;
            try {
                domain = Domain.parse(p.substring(0, colon));
            } catch (IllegalArgumentException e) {
                throw new ConfigException(key, text, "segment '" + p + "': " + e.getMessage());
            }
            int count;
            try {
                count = Integer.parseInt(p.substring(colon + 1).strip());
            } catch (NumberFormatException e) {
                throw new ConfigException(key, text, "segment '" + p + "': count '" + p.substring(colon + 1).strip()
                        + "' is not a whole number");
            }
            if (count < 1) {
                throw new ConfigException(key, text, "segment '" + p + "': count must be at least 1");
            }
            out.add(new Segment(domain, count));
        }
        return List.copyOf(out);
    }

    private static final class ScheduleValidator implements ConfigDef.Validator {
        @Override
        public void ensureValid(String name, Object value) {
            parseSchedule(name, (String) value);
        }

        @Override
        public String toString() {
            return "domain:count[,domain:count...]";
        }
    }

    private static final class RateValidator implements ConfigDef.Validator {
        @Override
        public void ensureValid(String name, Object value) {
            double rate = ((Number) value).doubleValue();
            // Range.atLeast(0) would let NaN and infinity through.
            if (!(rate >= 0 && Double.isFinite(rate))) {
                throw new ConfigException(name, value, "must be a finite number >= 0 (samples per second, 0 = no limit)");
            }
        }

        @Override
        public String toString() {
            return "[0,...] (0 = no limit)";
        }
    }
}
