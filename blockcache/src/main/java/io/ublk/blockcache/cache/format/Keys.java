package io.ublk.blockcache.cache.format;

/** Object keys of one volume (see docs/design/volume-format.md); generations are 16 hex digits so listings sort. */
public final class Keys {
    private Keys() {}

    public static String volume(String volume) {
        return volume + "/volume";
    }

    /** The writer lease: which cache may write the volume, until when. */
    public static String lease(String volume) {
        return volume + "/lease";
    }

    public static String manifestPrefix(String volume) {
        return volume + "/man/";
    }

    public static String manifest(String volume, long generation) {
        return manifestPrefix(volume) + hex(generation);
    }

    /** A checkpoint's first part (and all of a version 1 checkpoint). */
    public static String checkpoint(String volume, long generation) {
        return volume + "/ckpt/" + hex(generation);
    }

    /** Part {@code n} of a checkpoint: the first keeps the version 1 key, so either version opens by it. */
    public static String checkpointPart(String volume, long generation, int n) {
        return n == 0 ? checkpoint(volume, generation) : checkpoint(volume, generation) + "-" + n;
    }

    /**
     * A segment key. The attempt nonce keeps a segment from ever being overwritten: a writer that
     * retries a round, or a restarted one racing a PUT its dead predecessor left in flight,
     * writes new keys instead of replacing what some manifest may already name.
     */
    public static String segment(String volume, long generation, int attempt, int n) {
        return volume + "/seg/" + hex(generation) + "-" + Integer.toHexString(attempt) + "-" + n;
    }

    /** The generation a manifest key names, or -1 if it is not one. */
    public static long manifestGeneration(String volume, String key) {
        String prefix = manifestPrefix(volume);
        if (!key.startsWith(prefix) || key.length() != prefix.length() + 16) {
            return -1;
        }
        try {
            return Long.parseUnsignedLong(key.substring(prefix.length()), 16);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static String hex(long generation) {
        String h = Long.toHexString(generation);
        return "0".repeat(16 - h.length()) + h;
    }
}
