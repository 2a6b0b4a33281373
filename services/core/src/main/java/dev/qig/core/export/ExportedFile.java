package dev.qig.core.export;

/**
 * One file of an exported checkpoint.
 *
 * @param path its path relative to the checkpoint folder, with '/' separators
 * @param size its size in bytes
 * @param sha256 the SHA-256 of its bytes, 64 lower-case hex digits
 */
public record ExportedFile(String path, long size, String sha256) {}
