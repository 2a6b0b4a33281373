package dev.qig.registry.it;

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

/** The generated record classes of {@code dev.qig.schemas} and filled-in instances of them. */
final class SampleRecords {

    private SampleRecords() {
    }

    /** Every SpecificRecord class of the schemas module, found on the class path (new schemas are covered). */
    static List<Class<? extends SpecificRecord>> recordClasses() throws IOException, URISyntaxException, ClassNotFoundException {
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
                Class<?> type = Class.forName(name.substring(0, name.length() - ".class".length()).replace('/', '.'));
                if (SpecificRecord.class.isAssignableFrom(type)) {
                    classes.add(type.asSubclass(SpecificRecord.class));
                }
            }
        }
        classes.sort((a, b) -> a.getName().compareTo(b.getName()));
        return classes;
    }

    /** The schema of the generated type {@code fullName}. */
    static Schema schemaOf(String fullName) throws ClassNotFoundException {
        Class<?> type = Class.forName(fullName);
        return SpecificData.getForClass(type).getSchema(type);
    }

    /** An instance of {@code type} with every field set (one to three items in arrays and maps). */
    static <T extends SpecificRecord> T of(Class<T> type, Random random) {
        SpecificData model = SpecificData.getForClass(type);
        return type.cast(value(model.getSchema(type), model, random, 0));
    }

    private static Object value(Schema schema, SpecificData model, Random random, int depth) {
        Object raw = raw(schema, model, random, depth);
        Conversion<?> conversion = schema.getLogicalType() == null ? null : model.getConversionFor(schema.getLogicalType());
        return conversion == null ? raw : Conversions.convertToLogicalType(raw, schema, schema.getLogicalType(), conversion);
    }

    private static Object raw(Schema schema, SpecificData model, Random random, int depth) {
        int items = depth > 3 ? 0 : 1 + random.nextInt(3);
        return switch (schema.getType()) {
            case RECORD -> {
                IndexedRecord record = (IndexedRecord) model.newRecord(null, schema);
                for (Schema.Field field : schema.getFields()) {
                    record.put(field.pos(), value(field.schema(), model, random, depth + 1));
                }
                yield record;
            }
            case ENUM -> model.createEnum(schema.getEnumSymbols().get(random.nextInt(schema.getEnumSymbols().size())), schema);
            case ARRAY -> {
                List<Object> list = new ArrayList<>();
                for (int i = 0; i < items; i++) {
                    list.add(value(schema.getElementType(), model, random, depth + 1));
                }
                yield list;
            }
            case MAP -> {
                Map<String, Object> map = new LinkedHashMap<>();
                for (int i = 0; i < items; i++) {
                    map.put("key" + i, value(schema.getValueType(), model, random, depth + 1));
                }
                yield map;
            }
            // The last branch: the non-null one in the schemas' ["null", T] unions.
            case UNION -> value(schema.getTypes().get(schema.getTypes().size() - 1), model, random, depth);
            case FIXED -> {
                byte[] bytes = new byte[schema.getFixedSize()];
                random.nextBytes(bytes);
                yield model.createFixed(null, bytes, schema);
            }
            case STRING -> "s-" + Integer.toString(random.nextInt(1 << 20), 36) + "-\u00e9\u4e2d";
            case BYTES -> {
                byte[] bytes = new byte[1 + random.nextInt(32)];
                random.nextBytes(bytes);
                yield ByteBuffer.wrap(bytes);
            }
            case INT -> random.nextInt();
            // Also the base of timestamp-millis: within Instant's range.
            case LONG -> random.nextLong() >> 20;
            case FLOAT -> random.nextFloat();
            case DOUBLE -> random.nextGaussian() * 1e3;
            case BOOLEAN -> random.nextBoolean();
            case NULL -> null;
        };
    }
}
