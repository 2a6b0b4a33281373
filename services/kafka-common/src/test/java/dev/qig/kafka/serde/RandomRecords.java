package dev.qig.kafka.serde;

import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.jar.JarFile;
import java.util.stream.Stream;

import org.apache.avro.Conversion;
import org.apache.avro.Conversions;
import org.apache.avro.Schema;
import org.apache.avro.generic.IndexedRecord;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;

import dev.qig.schemas.CalibrationSample;

/**
 * Test data: every generated record class of {@code dev.qig.schemas}, and random instances of them.
 * Shared with the tests against a real registry through this module's test jar.
 */
public final class RandomRecords {

    private RandomRecords() {
    }

    /** The SpecificRecord classes of the schemas module, found on the class path so new schemas are covered. */
    public static List<Class<? extends SpecificRecord>> recordClasses() throws IOException, URISyntaxException, ClassNotFoundException {
        File location = new File(CalibrationSample.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<String> names = new ArrayList<>();
        if (location.isDirectory()) {
            Path root = location.toPath();
            try (Stream<Path> files = Files.walk(root.resolve("dev/qig/schemas"))) {
                files.map(p -> root.relativize(p).toString().replace(File.separatorChar, '/')).forEach(names::add);
            }
        } else {
            try (JarFile jar = new JarFile(location)) {
                jar.stream().map(e -> e.getName()).filter(n -> n.startsWith("dev/qig/schemas/")).forEach(names::add);
            }
        }
        List<Class<? extends SpecificRecord>> classes = new ArrayList<>();
        for (String name : names) {
            if (name.endsWith(".class") && !name.contains("$")) {
                Class<?> cls = Class.forName(name.substring(0, name.length() - ".class".length()).replace('/', '.'));
                if (SpecificRecord.class.isAssignableFrom(cls)) {
                    classes.add(cls.asSubclass(SpecificRecord.class));
                }
            }
        }
        classes.sort((a, b) -> a.getName().compareTo(b.getName()));
        return classes;
    }

    /** A random instance of {@code type} with every field set, through the class's own model. */
    public static <T extends SpecificRecord> T of(Class<T> type, Random random) {
        SpecificData model = SpecificData.getForClass(type);
        return type.cast(value(model.getSchema(type), model, random, 0, false));
    }

    /**
     * A random instance with nothing left empty: every optional field takes its non-null branch and
     * every array and map holds one to three items, so that every nested named type is written.
     */
    public static <T extends SpecificRecord> T filled(Class<T> type, Random random) {
        SpecificData model = SpecificData.getForClass(type);
        return type.cast(value(model.getSchema(type), model, random, 0, true));
    }

    /** The schema of the generated type {@code fullName}. */
    public static Schema schemaOf(String fullName) throws ClassNotFoundException {
        Class<?> type = Class.forName(fullName);
        return SpecificData.getForClass(type).getSchema(type);
    }

    private static Object value(Schema schema, SpecificData model, Random random, int depth, boolean filled) {
        Object raw = raw(schema, model, random, depth, filled);
        Conversion<?> conversion = schema.getLogicalType() == null ? null : model.getConversionFor(schema.getLogicalType());
        return conversion == null ? raw : Conversions.convertToLogicalType(raw, schema, schema.getLogicalType(), conversion);
    }

    private static Object raw(Schema schema, SpecificData model, Random random, int depth, boolean filled) {
        int size = depth > 3 ? 0 : filled ? 1 + random.nextInt(3) : random.nextInt(4);
        switch (schema.getType()) {
            case RECORD: {
                IndexedRecord record = (IndexedRecord) model.newRecord(null, schema);
                for (Schema.Field field : schema.getFields()) {
                    record.put(field.pos(), value(field.schema(), model, random, depth + 1, filled));
                }
                return record;
            }
            case ENUM:
                return model.createEnum(schema.getEnumSymbols().get(random.nextInt(schema.getEnumSymbols().size())), schema);
            case ARRAY: {
                List<Object> list = new ArrayList<>();
                for (int i = 0; i < size; i++) {
                    list.add(value(schema.getElementType(), model, random, depth + 1, filled));
                }
                return list;
            }
            case MAP: {
                Map<String, Object> map = new LinkedHashMap<>();
                for (int i = 0; i < size; i++) {
                    map.put("k" + random.nextInt(1000), value(schema.getValueType(), model, random, depth + 1, filled));
                }
                return map;
            }
            case UNION: {
                List<Schema> branches = schema.getTypes();
                // Filled: the last branch, the non-null one in the schemas' ["null", T] unions.
                Schema branch = filled ? branches.get(branches.size() - 1) : branches.get(random.nextInt(branches.size()));
                return value(branch, model, random, depth, filled);
            }
            case FIXED: {
                byte[] bytes = new byte[schema.getFixedSize()];
                random.nextBytes(bytes);
                return model.createFixed(null, bytes, schema);
            }
            case STRING:
                return "s" + Long.toString(random.nextLong(), 36);
            case BYTES: {
                byte[] bytes = new byte[random.nextInt(64)];
                random.nextBytes(bytes);
                return ByteBuffer.wrap(bytes);
            }
            case INT:
                return random.nextInt();
            case LONG:
                // Also the timestamp-millis base type: stay within Instant's range.
                return random.nextLong() >> 20;
            case FLOAT:
                return random.nextFloat();
            case DOUBLE:
                return random.nextGaussian() * 1e6;
            case BOOLEAN:
                return random.nextBoolean();
            case NULL:
                return null;
            default:
                throw new IllegalArgumentException("no generator for " + schema.getType());
        }
    }
}
