package io.ublk.s3;

/** Argument rules and messages for ranged reads, shared so both stores say the same thing. */
final class Ranges {
    private Ranges() {}

    static void check(long offset, int length) {
        if (offset < 0) {
            throw new IllegalArgumentException("offset cannot be negative: " + offset);
        }
        if (length < 1) {
            throw new IllegalArgumentException("length must be at least 1: " + length);
        }
    }

    static String beyondEnd(String key, long offset, long size) {
        return "offset " + offset + " is at or beyond the end of " + key + " (" + size + " bytes)";
    }
}
