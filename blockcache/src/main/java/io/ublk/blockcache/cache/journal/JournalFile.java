package io.ublk.blockcache.cache.journal;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** One journal file: written by one lane at a time, forced by the syncer, deleted once committed. */
public final class JournalFile {
    final long id;
    public final Path path;
    /** Open while a lane appends or the syncer still has to force it; null for files found at replay. */
    volatile FileChannel channel;
    /** Bytes appended (by its lane). */
    volatile long size;
    /** Bytes known durable: forced, or found intact at replay. */
    public volatile long synced;
    /** The newest epoch of any record in it: it may go once that epoch is in the store. */
    volatile long maxEpoch;
    /** The oldest epoch of any record in it (Long.MAX_VALUE while empty). */
    volatile long minEpoch = Long.MAX_VALUE;
    /** Set when its lane moved on to another file. */
    volatile boolean retired;
    /** For reading spilled data back; opened on first use. */
    private FileChannel reader;

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

    /** Reads {@code len} bytes at {@code pos} of this file into {@code dst[dstAt, dstAt+len)}. */
    public void read(MemorySegment dst, long dstAt, int len, long pos) throws IOException {
        ByteBuffer b = dst.asSlice(dstAt, len).asByteBuffer();
        FileChannel ch = reader();
        while (b.hasRemaining()) {
            int n = ch.read(b, pos + b.position());
            if (n < 0) {
                throw new IOException(path + ": ends before " + (pos + len));
            }
        }
    }

    synchronized FileChannel reader() throws IOException {
        if (reader == null) {
            reader = FileChannel.open(path, StandardOpenOption.READ);
        }
        return reader;
    }

    synchronized void closeReader() {
        if (reader != null) {
            try {
                reader.close();
            } catch (IOException ignored) {
                // read-only
            }
            reader = null;
        }
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
