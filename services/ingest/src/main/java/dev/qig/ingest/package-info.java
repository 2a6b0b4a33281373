/**
 * The ingest service: writes calibration samples to the samples topic of qig-stream, from the
 * synthetic world, a folder of JSON + image files or a JSON-lines file, and dead-letters inputs that cannot be
 * samples. Entry points: {@link dev.qig.ingest.IngestConfig}, {@link dev.qig.ingest.Ingest} and,
 * for other sources, {@link dev.qig.ingest.SampleSource}.
 */
package dev.qig.ingest;
