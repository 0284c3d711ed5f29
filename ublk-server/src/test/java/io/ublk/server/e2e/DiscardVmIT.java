package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.server.RealUblk;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Discard and write-zeroes through the whole stack (VM tier): a real server on the memory target,
 * 32 MiB of a per-sector pattern written with O_DIRECT, then {@code blkdiscard} (REQ_OP_DISCARD)
 * on one range and {@code blkdiscard -z} (BLKZEROOUT: REQ_OP_WRITE_ZEROES) on two others, and an
 * O_DIRECT read of the whole device: zeros exactly in those ranges, the pattern everywhere else
 * it was written, zeros beyond. The ranges are deliberately not aligned to the target's 64 KiB
 * chunks nor to the 128 KiB slot, and one write-zeroes range is aligned to 512 bytes only.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class DiscardVmIT {
    private static final long KIB = 1024;
    private static final long MIB = 1024 * KIB;
    private static final long DEVICE = 64 * MIB;
    private static final long WRITTEN = 32 * MIB;

    @TempDir
    Path dir;

    @BeforeAll
    static void needsUblk() {
        RealUblk.require();
    }

    record Range(String how, long offset, long length) {
        boolean contains(long pos) {
            return pos >= offset && pos < offset + length;
        }
    }

    @Test
    void discardAndWriteZeroesReadBackAsZerosAndLeaveTheRestIntact() throws Exception {
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), Duration.ofMinutes(5),
                "--target", "memory", "--size", "64MiB")) {
            Path dev = server.device(0);
            DirectIo.writePattern(dev, 0, WRITTEN);
            DirectIo.Content[] before = DirectIo.classify(dev, 0, WRITTEN);
            assertThat(count(before, DirectIo.Content.PATTERN)).as("sectors holding the pattern after the write")
                    .isEqualTo(WRITTEN / DirectIo.SECTOR);

            List<Range> zeroed = List.of(
                    new Range("discard", 4 * MIB + 12 * KIB, 3 * MIB + 20 * KIB),
                    new Range("write-zeroes", 12 * MIB + 4 * KIB, 5 * MIB + 8 * KIB),
                    new Range("write-zeroes (512-aligned)", 20 * MIB + 1536, MIB + 2560));
            for (Range r : zeroed) {
                List<String> cmd = new ArrayList<>(List.of("blkdiscard", "-v", "-o", Long.toString(r.offset),
                        "-l", Long.toString(r.length)));
                if (!r.how.equals("discard")) {
                    cmd.add("-z");
                }
                cmd.add(dev.toString());
                Cmd.Result res = Cmd.run(Duration.ofMinutes(2), dir, cmd);
                assertThat(res.exit()).as("%s\n%s", res.describe(), server.describe()).isZero();
            }
            server.assertAlive();

            DirectIo.Content[] after = DirectIo.classify(dev, 0, DEVICE);
            List<String> wrong = new ArrayList<>();
            for (int s = 0; s < after.length && wrong.size() < 20; s++) {
                long pos = (long) s * DirectIo.SECTOR;
                Range in = zeroed.stream().filter(r -> r.contains(pos)).findFirst().orElse(null);
                DirectIo.Content want = in != null || pos >= WRITTEN ? DirectIo.Content.ZERO
                        : DirectIo.Content.PATTERN;
                if (after[s] != want) {
                    wrong.add("offset " + pos + " (" + (in == null ? "untouched" : in.how) + "): " + after[s]
                            + ", want " + want);
                }
            }
            assertThat(wrong).as("sectors with the wrong content (first 20)\n%s", server.describe()).isEmpty();
            server.stop();
        }
    }

    private static long count(DirectIo.Content[] c, DirectIo.Content what) {
        long n = 0;
        for (DirectIo.Content x : c) {
            if (x == what) {
                n++;
            }
        }
        return n;
    }
}
