package io.ublk.server.e2e;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The I/O schedulers of block devices, switched through sysfs. A switch freezes the device's
 * queue and waits until every request in flight has completed, so a switch that never returns
 * means a request that never completes.
 */
final class Schedulers {
    private Schedulers() {}

    static Path file(Path dev) {
        return Path.of("/sys/block", dev.getFileName().toString(), "queue", "scheduler");
    }

    /** The schedulers {@code dev} offers ({@code [none] mq-deadline} lists two). */
    static List<String> offered(Path dev) {
        try {
            List<String> names = new ArrayList<>();
            for (String n : Files.readString(file(dev)).strip().split("\\s+")) {
                names.add(n.replace("[", "").replace("]", ""));
            }
            return names;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Fails, naming what is there, unless {@code dev} offers at least two schedulers to switch between. */
    static void require(Path dev) {
        List<String> names = offered(dev);
        if (names.size() < 2) {
            fail(dev + " offers only " + names + " as I/O scheduler (the kernel needs CONFIG_MQ_IOSCHED_DEADLINE)");
        }
    }

    /** Starts switching every device in {@code devs} between its first two schedulers every {@code every}. */
    static Switcher switchEvery(Duration every, List<Path> devs) {
        return new Switcher(every, devs);
    }

    static final class Switcher implements AutoCloseable {
        private final Thread thread;
        private final AtomicLong switches = new AtomicLong();
        private final AtomicLong longestNanos = new AtomicLong();
        /** When the switch under way began (0: none): a hung one shows here. */
        private final AtomicLong switchSince = new AtomicLong();
        private volatile boolean stop;
        private volatile Throwable failure;

        private Switcher(Duration every, List<Path> devs) {
            List<List<String>> names = devs.stream().map(Schedulers::offered).toList();
            thread = Thread.ofPlatform().daemon().name("scheduler-switcher").start(() -> {
                try {
                    for (int round = 0; !stop; round++) {
                        for (int i = 0; i < devs.size(); i++) {
                            String to = names.get(i).get(round % 2 == 0 ? 1 : 0);
                            long start = System.nanoTime();
                            switchSince.set(start);
                            Files.writeString(file(devs.get(i)), to);
                            switchSince.set(0);
                            longestNanos.accumulateAndGet(System.nanoTime() - start, Math::max);
                            switches.incrementAndGet();
                        }
                        LockSupport.parkNanos(every.toNanos());
                    }
                } catch (Throwable e) {
                    failure = e;
                }
            });
        }

        long switches() {
            return switches.get();
        }

        Duration longest() {
            return Duration.ofNanos(longestNanos.get());
        }

        /** Stops switching; fails if the switch under way does not return within {@code limit}. */
        void stopWithin(Duration limit) throws InterruptedException {
            stop = true;
            thread.join(limit.toMillis());
            if (thread.isAlive()) {
                long since = switchSince.get();
                fail("a scheduler switch has not returned for " + (since == 0 ? "?" : (System.nanoTime() - since) / 1_000_000)
                        + " ms: a request in flight never completed (" + switches() + " switches before it)");
            }
            if (failure != null) {
                throw new AssertionError("a scheduler switch failed", failure);
            }
        }

        @Override
        public void close() {
            stop = true;
        }
    }
}
