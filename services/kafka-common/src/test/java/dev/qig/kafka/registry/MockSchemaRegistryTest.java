package dev.qig.kafka.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The in-memory registry: ids, scopes, thread safety. Compatibility is in the serde's SchemaEvolutionTest. */
class MockSchemaRegistryTest {

    private final List<String> scopes = new ArrayList<>();

    private MockSchemaRegistry scope(String name) {
        scopes.add(name);
        return MockSchemaRegistry.scope(name);
    }

    @AfterEach
    void dropScopes() {
        scopes.forEach(MockSchemaRegistry::drop);
    }

    private static Schema record(String name) {
        return SchemaBuilder.record(name).namespace("test").fields().requiredString("id").endRecord();
    }

    @Test
    void theSameSchemaGetsTheSameIdAndNewSchemasTheNextOne() {
        MockSchemaRegistry registry = scope("ids");
        assertEquals(1, registry.register("a-value", record("A")));
        assertEquals(1, registry.register("a-value", record("A")), "an equal schema, even another instance");
        assertEquals(1, registry.register("b-value", record("A")), "ids are global, not per subject");
        assertEquals(2, registry.register("c-value", record("C")));
        assertEquals(record("C"), registry.schemaById(2));
        assertEquals(1, registry.idOf("b-value", record("A")));

        SchemaRegistryException noSubject = assertThrows(SchemaRegistryException.class, () -> registry.idOf("z-value", record("A")));
        assertEquals(40401, noSubject.errorCode());
        SchemaRegistryException notUnder = assertThrows(SchemaRegistryException.class, () -> registry.idOf("a-value", record("C")));
        assertEquals(40403, notUnder.errorCode());
        SchemaRegistryException unknown = assertThrows(SchemaRegistryException.class, () -> registry.schemaById(3));
        assertEquals(404, unknown.status());
        assertEquals("schema id 3 not found in registry mock://ids", unknown.getMessage());
    }

    @Test
    void scopesAreIsolatedAndSharedByName() {
        MockSchemaRegistry one = scope("one");
        MockSchemaRegistry two = scope("two");
        assertSame(one, MockSchemaRegistry.scope("one"));
        assertNotSame(one, two);

        one.register("a-value", record("A"));
        assertThrows(SchemaRegistryException.class, () -> two.schemaById(1));
        assertEquals(1, two.register("b-value", record("B")), "each scope numbers from 1");

        MockSchemaRegistry.drop("one");
        assertThrows(SchemaRegistryException.class, () -> MockSchemaRegistry.scope("one").schemaById(1));
    }

    @Test
    void concurrentRegistrationsYieldConsistentIds() throws Exception {
        MockSchemaRegistry registry = scope("concurrent");
        int threads = 8;
        int schemas = 25;
        CountDownLatch start = new CountDownLatch(1);
        List<Callable<Map<String, Integer>>> tasks = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            long seed = t;
            tasks.add(() -> {
                List<Integer> order = IntStream.range(0, schemas).boxed().collect(Collectors.toList());
                Collections.shuffle(order, new Random(seed));
                Map<String, Integer> ids = new TreeMap<>();
                start.await();
                for (int i : order) {
                    ids.put("R" + i, registry.register("s" + i + "-value", record("R" + i)));
                }
                return ids;
            });
        }
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Map<String, Integer>>> futures = new ArrayList<>();
            for (Callable<Map<String, Integer>> task : tasks) {
                futures.add(pool.submit(task));
            }
            start.countDown();
            Map<String, Integer> first = futures.get(0).get();
            for (Future<Map<String, Integer>> future : futures) {
                assertEquals(first, future.get(), "every thread sees the same id for the same schema");
            }
            assertEquals(IntStream.rangeClosed(1, schemas).boxed().collect(Collectors.toSet()), new TreeSet<>(first.values()),
                    "ids are 1..n without gaps or duplicates");
            first.forEach((name, id) -> assertEquals(name, registry.schemaById(id).getName()));
        } finally {
            pool.shutdownNow();
        }
    }
}
