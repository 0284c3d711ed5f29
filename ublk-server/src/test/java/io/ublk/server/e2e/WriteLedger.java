package io.ublk.server.e2e;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The exact record of what a crash may leave of each 4 KiB block of a device, and the check of
 * what it did leave.
 *
 * <p>One trial = writes and fsyncs from a few writer threads, then a crash. Each thread owns its
 * blocks (no two threads write the same block), so the writes of one block are ordered. One clock
 * orders events across threads: a write is stamped when its {@code pwrite} returned, an fsync when
 * it was issued. An fsync covers every write stamped before its issue stamp (an fsync of a block
 * device flushes the whole device); a write that completed later, or never, may or may not have
 * landed. After the crash, with L the issue stamp of the last fsync that completed, a block must
 * hold:
 *
 * <ul>
 *   <li>if some write of it this trial completed before L: the last such write, or any later write
 *       of it (issued after, completed or not);
 *   <li>otherwise: what it held when the trial began (zeros, or the write it held then), or any
 *       write of it this trial.
 * </ul>
 *
 * Anything else fails: an older write, zeros where an fsynced write was, another block's bytes,
 * torn bytes. After a check, what the block holds becomes its content "before the trial" for the
 * next one (the driver issues an fsync before the next trial's writes, which makes it so).
 *
 * <p>Threads: {@link Log}s are used by their own writer thread only; {@link #seal} and the checks
 * run after those threads ended (joined), which publishes their records.
 */
final class WriteLedger {
    /** One write: blocks [first, first + count) with sequence number seq. */
    static final class Write {
        final long seq;
        final int first;
        final int count;
        /** Clock stamp when the write returned; 0 while it has not (or never did). */
        long done;

        Write(long seq, int first, int count) {
            this.seq = seq;
            this.first = first;
            this.count = count;
        }
    }

    /** A block that did not hold what it may hold. */
    record Failure(int trial, long seed, long offset, String expected, String found) {
        @Override
        public String toString() {
            return "trial " + trial + " (seed " + seed + ") offset 0x" + Long.toHexString(offset) + ": expected "
                    + expected + ", found " + found;
        }
    }

    /** One writer thread's writes (in issue order) and the last fsync it completed. */
    final class Log {
        private final List<Write> writes = new ArrayList<>();
        private long lastFsync;
        private int fsyncs;

        /** Records a write of [first, first + count) about to be issued; its seq goes into the blocks. */
        Write issue(int first, int count) {
            Write w = new Write(seq.incrementAndGet(), first, count);
            writes.add(w);
            return w;
        }

        /** The write returned successfully. */
        void completed(Write w) {
            w.done = clock.incrementAndGet();
        }

        /** Stamps an fsync about to be issued; pass the stamp to {@link #fsynced} once it returned. */
        long fsyncIssued() {
            return clock.incrementAndGet();
        }

        void fsynced(long issued) {
            lastFsync = Math.max(lastFsync, issued);
            fsyncs++;
        }
    }

    private final int blocks;
    private final AtomicLong seq = new AtomicLong();
    private final AtomicLong clock = new AtomicLong();
    /** Per block, what it held before the trial: 0 zeros, > 0 that seq, -1 unexplained bytes (hash in baseHash). */
    private final long[] baseSeq;
    private final long[] baseHash;
    private final List<Log> logs = new ArrayList<>();
    private int trial = -1;
    private long seed;
    private long trialFirstSeq = 1;
    // set by seal()
    private List<Write>[] perBlock;
    private long lastFsync;
    private int writesIssued;
    private int writesCompleted;
    private int fsyncs;
    private long pinnedBlocks;

    WriteLedger(int blocks) {
        this.blocks = blocks;
        this.baseSeq = new long[blocks];
        this.baseHash = new long[blocks];
        seal();
    }

    int blocks() {
        return blocks;
    }

    /** Starts trial {@code number}: the content every block holds now is its baseline. */
    void begin(int number, long trialSeed) {
        trial = number;
        seed = trialSeed;
        trialFirstSeq = seq.get() + 1;
        logs.clear();
        perBlock = null;
    }

    /** A log for one writer thread of the current trial (call before the threads start). */
    Log log() {
        Log l = new Log();
        logs.add(l);
        return l;
    }

    /** Ends the trial's writes (after the writer threads were joined): builds the per-block view. */
    @SuppressWarnings("unchecked")
    void seal() {
        perBlock = new List[blocks];
        lastFsync = 0;
        writesIssued = 0;
        writesCompleted = 0;
        fsyncs = 0;
        for (Log l : logs) {
            lastFsync = Math.max(lastFsync, l.lastFsync);
            fsyncs += l.fsyncs;
        }
        for (Log l : logs) {
            for (Write w : l.writes) {
                writesIssued++;
                if (w.done != 0) {
                    writesCompleted++;
                }
                for (int b = w.first; b < w.first + w.count; b++) {
                    if (perBlock[b] == null) {
                        perBlock[b] = new ArrayList<>(2);
                    }
                    perBlock[b].add(w);
                }
            }
        }
        pinnedBlocks = 0;
        for (int b = 0; b < blocks; b++) {
            if (pinned(b) >= 0) {
                pinnedBlocks++;
            }
        }
    }

    int writesIssued() {
        return writesIssued;
    }

    int writesCompleted() {
        return writesCompleted;
    }

    int fsyncs() {
        return fsyncs;
    }

    /** Blocks whose content the trial's last completed fsync pins to one of its own writes. */
    long pinnedBlocks() {
        return pinnedBlocks;
    }

    /** Index in perBlock[b] of its last write that completed before the last fsync; -1 if none. */
    private int pinned(int b) {
        List<Write> ws = perBlock[b];
        int cut = -1;
        if (ws != null) {
            for (int i = 0; i < ws.size(); i++) {
                Write w = ws.get(i);
                if (w.done != 0 && w.done < lastFsync) {
                    cut = i;
                }
            }
        }
        return cut;
    }

    /**
     * Checks what block {@code b} holds after the crash (its bytes hash to {@code hash}); returns
     * the failure, or null. What it holds becomes its baseline either way.
     */
    Failure check(int b, StampedBlock.Stamp found, long hash) {
        List<Write> ws = perBlock[b] == null ? List.of() : perBlock[b];
        int cut = pinned(b);
        boolean ok;
        if (found.kind() == StampedBlock.Kind.STAMPED && ownSeq(ws, cut, found.seq())) {
            ok = true;
        } else {
            ok = cut < 0 && isBaseline(b, found, hash);
        }
        Failure f = ok ? null : new Failure(trial, seed, (long) b * StampedBlock.SIZE, expected(b, ws, cut),
                found(b, ws, cut, found));
        if (found.kind() == StampedBlock.Kind.STAMPED) {
            baseSeq[b] = found.seq();
        } else if (found.kind() == StampedBlock.Kind.ZERO) {
            baseSeq[b] = 0;
        } else {
            baseSeq[b] = -1;
            baseHash[b] = hash;
        }
        return f;
    }

    /** seq is a write of this block at index cut or later (any of them when cut is -1). */
    private static boolean ownSeq(List<Write> ws, int cut, long s) {
        for (int i = Math.max(cut, 0); i < ws.size(); i++) {
            if (ws.get(i).seq == s) {
                return true;
            }
        }
        return false;
    }

    private boolean isBaseline(int b, StampedBlock.Stamp found, long hash) {
        long base = baseSeq[b];
        return switch (found.kind()) {
            case ZERO -> base == 0;
            case STAMPED -> base > 0 && found.seq() == base;
            case MISPLACED, GARBAGE -> base == -1 && hash == baseHash[b];
        };
    }

    private String expected(int b, List<Write> ws, int cut) {
        if (cut >= 0) {
            int later = ws.size() - cut - 1;
            return "seq " + ws.get(cut).seq + " (its last write before the last completed fsync)"
                    + (later == 0 ? "" : " or one of its " + later + " later write(s), seq " + ws.get(cut + 1).seq
                            + ".." + ws.get(ws.size() - 1).seq);
        }
        long base = baseSeq[b];
        String before = base == 0 ? "zeros" : base > 0 ? "seq " + base : "the unexplained bytes it held";
        return before + " (its content before the trial; no write of it completed before an fsync)"
                + (ws.isEmpty() ? "" : " or one of its " + ws.size() + " write(s) of this trial, seq " + ws.get(0).seq
                        + ".." + ws.get(ws.size() - 1).seq);
    }

    private String found(int b, List<Write> ws, int cut, StampedBlock.Stamp found) {
        String what = found.describe();
        if (found.kind() == StampedBlock.Kind.STAMPED) {
            long s = found.seq();
            for (int i = 0; i < ws.size(); i++) {
                if (ws.get(i).seq == s) {
                    return what + ": an older write of this block, superseded by fsynced seq " + ws.get(cut).seq;
                }
            }
            if (s == baseSeq[b]) {
                return what + ": its content before the trial (an fsynced write of this trial was lost)";
            }
            if (s >= trialFirstSeq) {
                return what + ": a write of this trial to other blocks";
            }
            return what + ": a write of an earlier trial" + (s > seq.get() ? " (unknown seq)" : "");
        }
        if (found.kind() == StampedBlock.Kind.ZERO && cut >= 0) {
            return what + ": the fsynced write was lost";
        }
        return what;
    }
}
