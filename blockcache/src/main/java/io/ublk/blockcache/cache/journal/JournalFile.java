package io.ublk.blockcache.cache.journal;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * One journal file: written by one lane at a time, forced by the syncer, deleted once committed.
 * Format 2 ({@link JournalFileHeader}): a header page with the file's sync marks, then records.
 * Files of format 1, from older versions, are only read: they start with a record.
 */
public final class JournalFile {
    /** The device's data: readable by its owner only. */
    static final Set<PosixFilePermission> MODE = PosixFilePermissions.fromString("rw-------");
    /** Hex digits of the id in the name, so names sort as ids do. */
    static final int NAME_DIGITS = 16;
    static final int NAME_RADIX = 16;
    static final String SUFFIX = ".jnl";
    /** Where the records of a format 2 file begin. */
    public static final int FIRST_RECORD = JournalFileHeader.BYTES;

    private static final Set<OpenOption> CREATE = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
            LinkOption.NOFOLLOW_LINKS);
    private static final FileAttribute<Set<PosixFilePermission>> CREATE_MODE = PosixFilePermissions.asFileAttribute(MODE);

    final long id;
    public final Path path;
    /** Where its records begin: {@link #FIRST_RECORD}, or 0 in a format 1 file. */
    final long start;
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
    /** The newest sync mark written, and whether a force has made it durable yet (syncer only). */
    private long markGeneration;
    private boolean markPending;
    private ByteBuffer markSlot;
    /** For reading spilled data back; opened on first use. */
    private FileChannel reader;

    JournalFile(long id, Path path, FileChannel channel) {
        this(id, path, channel, FIRST_RECORD);
    }

    JournalFile(long id, Path path, FileChannel channel, long start) {
        this.id = id;
        this.path = path;
        this.channel = channel;
        this.start = start;
    }

    static String name(long id) {
        String h = Long.toUnsignedString(id, NAME_RADIX);
        return "0".repeat(NAME_DIGITS - h.length()) + h + SUFFIX;
    }

    /**
     * Creates file {@code id} in {@code dir}: exclusively, never through a symbolic link, mode
     * 0600 from the start, and with its header forced before any record can go in (so a bad
     * header in a file that holds records is damage, never a crash).
     */
    static JournalFile create(JournalChannels channels, Path dir, long id) throws IOException {
        Path p = dir.resolve(name(id));
        FileChannel ch = channels.open(p, CREATE, CREATE_MODE);
        try {
            ByteBuffer h = JournalFileHeader.initial(id);
            long at = 0;
            while (h.hasRemaining()) {
                at += ch.write(h, at);
            }
            ch.force(false);
        } catch (IOException e) {
            ch.close();
            Files.deleteIfExists(p);
            throw e;
        }
        JournalFile f = new JournalFile(id, p, ch);
        f.size = FIRST_RECORD;
        f.synced = FIRST_RECORD;
        f.markGeneration = JournalFileHeader.FIRST_GENERATION;
        return f;
    }

    /**
     * Forces what was appended so far, then writes a sync mark saying so; the mark becomes
     * durable with the next force of this file ({@link #settle} when none comes). Answers
     * false if there was nothing new to force.
     */
    boolean force() throws IOException {
        FileChannel ch = channel;
        long s = size;
        if (ch == null || s == synced) {
            return false;
        }
        ch.force(false);
        synced = s;
        if (markSlot == null) {
            markSlot = JournalFileHeader.slotBuffer();
        }
        JournalFileHeader.writeMark(ch, markSlot, ++markGeneration, s);
        markPending = true;
        return true;
    }

    /** Forces the file so its newest sync mark is durable; false if it already was. */
    boolean settle() throws IOException {
        FileChannel ch = channel;
        if (ch == null || !markPending) {
            return false;
        }
        ch.force(false);
        markPending = false;
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
            reader = FileChannel.open(path, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
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
