package io.ublk.blockcache.cache.journal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * Read-only mappings of the journal files one segment PUT sends spilled blocks from, so a
 * spilled block goes to the store without being read back into a buffer first (a {@code pread}
 * of every spilled byte was most of the uploader's CPU).
 *
 * <p>Safe against the journal's life cycle: files only grow while appended and are deleted
 * (never truncated or reused) once committed, and a mapping of a deleted file stays valid until
 * it is unmapped. The one truncation, of a torn tail at replay, cuts only records this process
 * did not write whole (another process's crash), so no mapping of this process covers them.
 * (A test that plays a power cut truncates files a crashed instance's PUTs may still read: those
 * fail with an I/O error or an {@code InternalError} from the unsafe copy, not a crash.)
 *
 * <p>Unmapped as soon as the PUT succeeded (the store has read the whole body then). After a
 * failed PUT the HTTP client may still be writing the body for a moment, so the mappings go to a
 * {@link Graveyard} and are unmapped after a grace period.
 */
public final class JournalViews {
    /** A PUT sends from a few files at most: the ones its epochs were spilled to. */
    private static final int EXPECTED_FILES = 4;

    private final Map<JournalFile, MemorySegment> mapped = new IdentityHashMap<>(EXPECTED_FILES);
    private Arena arena;

    /** The {@code length} bytes at {@code pos} of {@code file}, mapped (the whole file, on first use). */
    public MemorySegment slice(JournalFile file, long pos, int length) {
        MemorySegment m = mapped.get(file);
        if (m == null || pos + length > m.byteSize()) {
            if (arena == null) {
                arena = Arena.ofShared();
            }
            try {
                FileChannel ch = file.reader();
                m = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot map journal file " + file.path, e);
            }
            mapped.put(file, m);
        }
        return m.asSlice(pos, length);
    }

    boolean isEmpty() {
        return arena == null;
    }

    /** Unmaps everything; false if an I/O operation is reading a mapping right now (try later). */
    boolean close() {
        if (arena == null) {
            return true;
        }
        try {
            arena.close();
        } catch (IllegalStateException inUse) {
            return false;
        }
        arena = null;
        mapped.clear();
        return true;
    }

    /** Views of failed PUTs, unmapped once nothing can still be reading them. */
    public static final class Graveyard {
        /** Longer than any HTTP client takes to abandon a failed request's body. */
        static final long GRACE_NANOS = TimeUnit.MINUTES.toNanos(2);
        /** How often the reaper left at close looks for graves that are due; their grace is minutes. */
        static final long REAPER_PERIOD_MILLIS = 1_000;

        private record Grave(long due, JournalViews views) {}

        private final ConcurrentLinkedQueue<Grave> graves = new ConcurrentLinkedQueue<>();
        private final long graceNanos;

        public Graveyard() {
            this(GRACE_NANOS);
        }

        Graveyard(long graceNanos) {
            this.graceNanos = graceNanos;
        }

        /** After its PUT answered (any thread): unmaps now after a success, later after a failure. */
        public void release(JournalViews v, boolean succeeded) {
            if (v.isEmpty() || (succeeded && v.close())) {
                return;
            }
            graves.add(new Grave(System.nanoTime() + graceNanos, v));
        }

        /** Unmaps the views whose grace period is over. */
        public void sweep() {
            long now = System.nanoTime();
            for (Grave g : graves) {
                if (now - g.due() >= 0 && g.views().close()) {
                    graves.remove(g);
                }
            }
        }

        /** At close: the rest are unmapped by a virtual thread once due, so the owner need not wait. */
        public void sweepLater() {
            if (graves.isEmpty()) {
                return;
            }
            Thread.ofVirtual().name("journal-views-reaper").start(() -> {
                while (!graves.isEmpty()) {
                    sweep();
                    try {
                        Thread.sleep(REAPER_PERIOD_MILLIS);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
        }

        int size() {
            return graves.size();
        }
    }
}
