package io.ublk.blockcache.cache;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/** One journal file: written by one lane at a time, forced by the syncer, deleted once committed. */
final class JournalFile {
    final long id;
    final Path path;
    /** Open while a lane appends or the syncer still has to force it; null for files found at replay. */
    volatile FileChannel channel;
    /** Bytes appended (by its lane). */
    volatile long size;
    /** Bytes known durable: forced, or found intact at replay. */
    volatile long synced;
    /** The newest epoch of any record in it: it may go once that epoch is in the store. */
    volatile long maxEpoch;
    /** Set when its lane moved on to another file. */
    volatile boolean retired;

    JournalFile(long id, Path path, FileChannel channel) {
        this.id = id;
        this.path = path;
        this.channel = channel;
    }

    static String name(long id) {
        String h = Long.toHexString(id);
        return "0".repeat(16 - h.length()) + h + ".jnl";
    }

    /** Forces what was appended so far; answers false if there was nothing new. */
    boolean force() throws IOException {
        FileChannel ch = channel;
        long s = size;
        if (ch == null || s == synced) {
            return false;
        }
        ch.force(false);
        synced = s;
        return true;
    }

    void closeQuietly() {
        FileChannel ch = channel;
        channel = null;
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // the file is either forced already or about to be deleted
            }
        }
    }
}
