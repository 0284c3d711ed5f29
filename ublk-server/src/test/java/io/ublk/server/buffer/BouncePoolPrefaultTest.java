package io.ublk.server.buffer;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** {@link BouncePool#prefault()} really commits the pool's pages (the JIT kept its stores). */
class BouncePoolPrefaultTest {
    private static final int SLOTS = 512;
    private static final int SLOT = 128 * 1024;

    @Test
    void prefaultGrowsResidentMemoryByThePoolSize() throws IOException {
        long poolBytes = (long) SLOTS * SLOT;
        try (BouncePool pool = new BouncePool(SLOTS, SLOT, 0)) {
            long before = residentBytes();
            pool.prefault();
            long grown = residentBytes() - before;
            assertThat(grown).as("RSS growth after prefault of %d bytes", poolBytes)
                    .isGreaterThanOrEqualTo(poolBytes * 9 / 10);
        }
    }

    /** VmRSS of this process, from {@code /proc/self/status} (reported in kB). */
    private static long residentBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                String kb = line.substring("VmRSS:".length()).trim().split("\\s+")[0];
                return Long.parseLong(kb) * 1024;
            }
        }
        throw new IllegalStateException("/proc/self/status has no VmRSS line");
    }
}
