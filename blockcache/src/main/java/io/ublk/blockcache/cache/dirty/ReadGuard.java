package io.ublk.blockcache.cache.dirty;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Tells when no reader can still be copying from a block array that was unlinked, so the array
 * may be written again (epoch-based reclamation, two epochs).
 *
 * <p>A reader {@link #enter}s before it looks up arrays and {@link #exit}s when it copied them:
 * one atomic add each, no lock. The reclaimer (one thread) unlinks arrays, then {@link #flip}s
 * the era; once {@link #quiet} says no reader of the old era is left, no reader can hold those
 * arrays: a reader of the new era started after they were unlinked. It flips again only after
 * that, so each counter serves one era at a time.
 */
public final class ReadGuard {
    private final AtomicLong[] readers = {new AtomicLong(), new AtomicLong()};
    private volatile long era;

    /** Answers the token to give {@link #exit}. */
    public int enter() {
        while (true) {
            long e = era;
            int k = (int) (e & 1);
            readers[k].incrementAndGet();
            if (era == e) {
                return k;
            }
            // the era moved between the read and the add: count in the new one instead
            readers[k].decrementAndGet();
        }
    }

    public void exit(int token) {
        readers[token].decrementAndGet();
    }

    /** Starts the next era; answers the one that ended. Reclaimer only, and only once the previous one is {@link #quiet}. */
    long flip() {
        long old = era;
        era = old + 1;
        return old;
    }

    /** True once every reader that entered in era {@code e} has left. */
    boolean quiet(long e) {
        return readers[(int) (e & 1)].get() == 0;
    }
}
