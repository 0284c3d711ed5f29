package io.ublk.server.ring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ublk.headers.Errno;
import io.ublk.headers.EventFd;
import io.ublk.headers.IoUringSetup;
import io.ublk.headers.Libc;
import io.ublk.headers.OpenFlags;
import io.ublk.server.sys.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ring against the host kernel's real io_uring (no mocks). */
class IoUringTest {
    /** One completion, captured for assertions. */
    record Cqe(long userData, int res, int flags) {}

    private static List<Cqe> drainAll(IoUring ring) {
        List<Cqe> out = new ArrayList<>();
        ring.drain((u, r, f) -> out.add(new Cqe(u, r, f)));
        return out;
    }

    @Test
    void nopCompletesWithItsUserData() {
        try (IoUring ring = IoUring.create(8, 0)) {
            for (int i = 0; i < 5; i++) {
                Sqes.nop(ring.nextSqe(), 100 + i);
            }
            assertThat(ring.submitAndWait(5)).isEqualTo(5);
            assertThat(drainAll(ring)).extracting(Cqe::userData).containsExactly(100L, 101L, 102L, 103L, 104L);
            assertThat(drainAll(ring)).isEmpty();
        }
    }

    @Test
    void writeThenReadAFileThroughTheRing(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("data");
        byte[] known = new byte[8192];
        new Random(42).nextBytes(known);
        Files.write(file, new byte[16384]);
        int fd = Libc.open(file.toString(), OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC, 0);
        assertThat(fd).isGreaterThanOrEqualTo(0);
        try (Arena arena = Arena.ofConfined(); IoUring ring = IoUring.create(4, IoUringSetup.SINGLE_ISSUER)) {
            MemorySegment out = arena.allocate(known.length, 4096);
            out.copyFrom(MemorySegment.ofArray(known));
            Sqes.write(ring.nextSqe(), fd, out, known.length, 4096, 1);
            ring.submitAndWait(1);
            assertThat(drainAll(ring)).containsExactly(new Cqe(1, known.length, 0));

            MemorySegment in = arena.allocate(known.length, 4096);
            Sqes.read(ring.nextSqe(), fd, in, known.length, 4096, 2);
            ring.submitAndWait(1);
            assertThat(drainAll(ring)).containsExactly(new Cqe(2, known.length, 0));
            assertThat(in.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(known);
        } finally {
            Libc.close(fd);
        }
        byte[] onDisk = Files.readAllBytes(file);
        assertThat(java.util.Arrays.copyOfRange(onDisk, 4096, 4096 + known.length)).isEqualTo(known);
        assertThat(java.util.Arrays.copyOfRange(onDisk, 0, 4096)).containsOnly(0);
    }

    @Test
    void readOfABadFdCompletesWithMinusEbadf() {
        try (Arena arena = Arena.ofConfined(); IoUring ring = IoUring.create(4, 0)) {
            MemorySegment buf = arena.allocate(512);
            Sqes.read(ring.nextSqe(), 1_000_000, buf, 512, 0, 7);
            ring.submitAndWait(1);
            List<Cqe> cqes = drainAll(ring);
            assertThat(cqes).hasSize(1);
            assertThat(cqes.get(0).res()).isEqualTo(-Errno.EBADF);
            assertThat(Errno.name(cqes.get(0).res())).isEqualTo("EBADF");
        }
    }

    @Test
    void setupErrorsCarryTheErrnoName() {
        // entries above the kernel maximum (32768) without CLAMP: EINVAL.
        assertThatThrownBy(() -> IoUring.create(1 << 20, 0))
                .isInstanceOf(NativeException.class)
                .hasMessageContaining("io_uring_setup failed: EINVAL")
                .satisfies(e -> assertThat(((NativeException) e).errno()).isEqualTo(Errno.EINVAL));
        // DEFER_TASKRUN without SINGLE_ISSUER is invalid.
        assertThatThrownBy(() -> IoUring.create(4, IoUringSetup.DEFER_TASKRUN))
                .isInstanceOf(NativeException.class)
                .hasMessageContaining("EINVAL");
        assertThatThrownBy(() -> IoUring.create(3, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("power of two");
    }

    @Test
    void pollAddOnAnEventfdFiresWhenSignalled() {
        int efd = Libc.eventfd(0, EventFd.EFD_CLOEXEC | EventFd.EFD_NONBLOCK);
        assertThat(efd).isGreaterThanOrEqualTo(0);
        try (Arena arena = Arena.ofConfined();
                IoUring ring = IoUring.create(4, IoUringSetup.SINGLE_ISSUER | IoUringSetup.DEFER_TASKRUN)) {
            Sqes.pollAdd(ring.nextSqe(), efd, io.ublk.headers.IoUringRing.POLLIN, false, 55);
            ring.submit();
            assertThat(ring.submitAndWait(1, 20_000_000L)).isZero(); // nothing yet: times out
            assertThat(drainAll(ring)).isEmpty();

            MemorySegment one = arena.allocate(ValueLayout.JAVA_LONG);
            one.set(ValueLayout.JAVA_LONG, 0, 1L);
            assertThat(Libc.write(efd, one, 8)).isEqualTo(8);
            assertThat(ring.submitAndWait(1, 5_000_000_000L)).isEqualTo(1);
            List<Cqe> cqes = drainAll(ring);
            assertThat(cqes).hasSize(1);
            assertThat(cqes.get(0).userData()).isEqualTo(55);
            assertThat(cqes.get(0).res() & io.ublk.headers.IoUringRing.POLLIN).isNotZero();
        } finally {
            Libc.close(efd);
        }
    }

    @Test
    void timedWaitReturnsAfterTheTimeoutWithNothingReady() {
        try (IoUring ring = IoUring.create(4, 0)) {
            long t0 = System.nanoTime();
            assertThat(ring.submitAndWait(1, 50_000_000L)).isZero();
            assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(40_000_000L);
        }
    }

    @Test
    void fullSubmissionQueueReturnsNullUntilTheKernelTakesEntries() {
        try (IoUring ring = IoUring.create(4, 0)) {
            for (int i = 0; i < 4; i++) {
                MemorySegment sqe = ring.nextSqe();
                assertThat(sqe).isNotNull();
                Sqes.nop(sqe, i);
            }
            assertThat(ring.nextSqe()).isNull();
            assertThat(ring.pendingSubmissions()).isEqualTo(4);
            assertThat(ring.submit()).isEqualTo(4);
            assertThat(ring.nextSqe()).isNotNull();
        }
    }

    @Test
    void completionsBeyondTheCqAreKeptAndFlushedOnWait() {
        try (IoUring ring = IoUring.create(4, 0, 4)) {
            assertThat(ring.features() & IoUringSetup.FEAT_NODROP).isNotZero();
            int total = 0;
            for (int batch = 0; batch < 3; batch++) {
                for (int i = 0; i < 4; i++) {
                    Sqes.nop(ring.nextSqe(), total++);
                }
                ring.submit();
            }
            assertThat(ring.readyCompletions()).isEqualTo(4);
            assertThat(ring.overflowPending()).isTrue();
            List<Cqe> all = new ArrayList<>();
            while (all.size() < total) {
                ring.poll();
                ring.drain((u, r, f) -> all.add(new Cqe(u, r, f)));
            }
            assertThat(all).extracting(Cqe::userData).containsExactly(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L, 11L);
            assertThat(ring.overflowPending()).isFalse();
            assertThat(ring.droppedCompletions()).isZero();
        }
    }

    @Test
    void sqe128RingCarriesUringCmdSizedEntries() {
        try (IoUring ring = IoUring.create(4, IoUringSetup.SQE128)) {
            assertThat(ring.sqeSize()).isEqualTo(128);
            MemorySegment sqe = ring.nextSqe();
            assertThat(sqe.byteSize()).isEqualTo(128);
            Sqes.nop(sqe, 9);
            ring.submitAndWait(1);
            assertThat(drainAll(ring)).containsExactly(new Cqe(9, 0, 0));
        }
    }

    @Test
    void msgRingWakesAnotherRing() {
        try (IoUring a = IoUring.create(4, 0); IoUring b = IoUring.create(4, 0)) {
            Sqes.msgRing(a.nextSqe(), b.fd(), 1234, 77, true, 1);
            a.submit();
            assertThat(b.submitAndWait(1, 5_000_000_000L)).isEqualTo(1);
            assertThat(drainAll(b)).containsExactly(new Cqe(77, 1234, 0));
            a.poll();
            assertThat(drainAll(a)).isEmpty();
        }
    }

    @Test
    void closeIsIdempotentAndReleasesTheFd() {
        IoUring ring = IoUring.create(4, 0);
        int fd = ring.fd();
        ring.close();
        ring.close();
        assertThat(Libc.close(fd)).isEqualTo(-Errno.EBADF);
    }
}
