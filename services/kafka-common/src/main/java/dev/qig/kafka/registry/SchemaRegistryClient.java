package dev.qig.kafka.registry;

import org.apache.avro.Schema;

/**
 * The few Schema Registry operations the Avro serdes need: register a writer schema under a
 * subject and fetch a writer schema by its global id. Implementations cache both answers, since
 * ids are immutable once assigned. Build one with {@link SchemaRegistries#create}.
 */
public interface SchemaRegistryClient {

    /**
     * Registers {@code schema} under {@code subject} (a no-op when it is already there) and returns
     * its global id; the same schema always gets the same id.
     *
     * @throws SchemaRegistryException when the registry refuses it (409: incompatible) or fails
     */
    int register(String subject, Schema schema);

    /**
     * The id of {@code schema} under {@code subject} without registering it.
     *
     * @throws SchemaRegistryException with status 404 when the subject does not hold the schema
     */
    int idOf(String subject, Schema schema);

    /**
     * The schema with global id {@code id}.
     *
     * @throws SchemaRegistryException with status 404 when the id is unknown
     */
    Schema schemaById(int id);
}
