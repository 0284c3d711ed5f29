package io.ublk.s3;

/** An object's bytes and the etag they had when read (for a later {@link ObjectStore#putIfMatch}). */
public record StoredObject(byte[] data, String etag) {}
