package dev.qig.kafka.registry;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaCompatibility.SchemaCompatibilityType;

/**
 * An in-memory registry for tests and single-process demos, selected with the URL
 * {@code mock://<scope>}. Every scope is one registry shared by the whole JVM, so that a producer
 * and a consumer configured with the same URL see the same ids. It behaves like Confluent's
 * registry where the serdes can tell: global ids from 1, an identical schema keeps its id, and a
 * new version must be BACKWARD compatible with the subject's latest one (else 409).
 */
public final class MockSchemaRegistry implements SchemaRegistryClient {

    private static final Map<String, MockSchemaRegistry> SCOPES = new ConcurrentHashMap<>();

    private final String scope;
    private final Map<Integer, Schema> byId = new HashMap<>();
    // Keyed by Schema.toString() of the schema: the full JSON, docs and defaults included, as
    // Confluent compares schemas, so a changed default is a new schema.
    private final Map<String, Integer> idByText = new HashMap<>();
    private final Map<String, List<Integer>> versions = new HashMap<>();
    private int nextId = 1;

    private MockSchemaRegistry(String scope) {
        this.scope = scope;
    }

    /** The registry of {@code scope}, created on first use. */
    public static MockSchemaRegistry scope(String scope) {
        return SCOPES.computeIfAbsent(scope, MockSchemaRegistry::new);
    }

    /** Forgets the registry of {@code scope}; the next {@link #scope} call starts empty. */
    public static void drop(String scope) {
        SCOPES.remove(scope);
    }

    @Override
    public synchronized int register(String subject, Schema schema) {
        String text = schema.toString();
        List<Integer> subjectVersions = versions.computeIfAbsent(subject, s -> new ArrayList<>());
        Integer existing = idByText.get(text);
        if (existing != null && subjectVersions.contains(existing)) {
            return existing;
        }
        if (!subjectVersions.isEmpty()) {
            Schema latest = byId.get(subjectVersions.get(subjectVersions.size() - 1));
            // BACKWARD: consumers on the new schema must read data written with the latest one.
            var result = SchemaCompatibility.checkReaderWriterCompatibility(schema, latest).getResult();
            if (result.getCompatibility() != SchemaCompatibilityType.COMPATIBLE) {
                throw new SchemaRegistryException("subject " + subject + ": schema is incompatible with an"
                        + " earlier version (409) in registry " + this + ": " + result.getIncompatibilities().stream()
                        .map(i -> i.getMessage() + " at " + i.getLocation()).collect(Collectors.joining("; ")), 409, 409);
            }
        }
        int id = existing != null ? existing : nextId++;
        byId.put(id, schema);
        idByText.put(text, id);
        subjectVersions.add(id);
        return id;
    }

    @Override
    public synchronized int idOf(String subject, Schema schema) {
        List<Integer> subjectVersions = versions.get(subject);
        if (subjectVersions == null || subjectVersions.isEmpty()) {
            throw new SchemaRegistryException("subject " + subject + " not found in registry " + this, 404, 40401);
        }
        Integer id = idByText.get(schema.toString());
        if (id == null || !subjectVersions.contains(id)) {
            throw new SchemaRegistryException("subject " + subject + ": schema not found in registry " + this, 404, 40403);
        }
        return id;
    }

    @Override
    public synchronized Schema schemaById(int id) {
        Schema schema = byId.get(id);
        if (schema == null) {
            throw new SchemaRegistryException("schema id " + id + " not found in registry " + this, 404, 40403);
        }
        return schema;
    }

    @Override
    public String toString() {
        return "mock://" + scope;
    }
}
