package io.ublk.s3;

/** A listed object: its key (relative to the store's root), size in bytes and etag. */
public record ObjectInfo(String key, long size, String etag) {}
