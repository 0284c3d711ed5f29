package io.ublk.blockcache.cache;

/** A whole block as the store holds it at {@code location}; a reader uses it only while the index still says so. */
record CleanBlock(long location, byte[] data) {}
