package io.ublk.server.daemon;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Progress of a long operation over many devices (create, recover, remove): one line per step,
 * to the daemon's log and to whoever asked (the admin client prints it). Lines are made only per
 * device, never per I/O.
 */
public final class Progress {
    private static final Logger LOG = LoggerFactory.getLogger(Progress.class);

    private final String what;
    private final int total;
    private final Consumer<String> sink;
    private final AtomicInteger done = new AtomicInteger();
    private final AtomicInteger failed = new AtomicInteger();
    private final long t0 = System.nanoTime();

    public Progress(String what, int total, Consumer<String> sink) {
        this.what = what;
        this.total = total;
        this.sink = sink;
    }

    /** A progress that only logs. */
    public static Progress logged(String what, int total) {
        return new Progress(what, total, line -> {});
    }

    /** One device is done: {@code [7/256] recovering: ublk7 LIVE (recovered) 1.2 s}. */
    public void step(String outcome, boolean ok) {
        int n = done.incrementAndGet();
        if (!ok) {
            failed.incrementAndGet();
        }
        String line = String.format(java.util.Locale.ROOT, "[%d/%d] %s: %s (%.1f s)", n, total, what, outcome,
                (System.nanoTime() - t0) / 1e9);
        if (ok) {
            LOG.info(line);
        } else {
            LOG.error(line);
        }
        sink.accept(line);
    }

    /** A line that is not a step (bytes left of a drain). */
    public void note(String line) {
        LOG.info("{}: {}", what, line);
        sink.accept(what + ": " + line);
    }

    public int failed() {
        return failed.get();
    }

    public double seconds() {
        return (System.nanoTime() - t0) / 1e9;
    }
}
