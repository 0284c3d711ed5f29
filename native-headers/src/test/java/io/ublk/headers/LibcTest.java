package io.ublk.headers;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The downcalls that run on any Linux host, without ublk or privileges. */
class LibcTest {
    /** {@code FIONREAD} from {@code <asm-generic/ioctls.h>}: bytes readable from the descriptor. */
    private static final long FIONREAD = 0x541B;
    /** Bytes of a CPU mask: 1024 CPUs, glibc's {@code cpu_set_t}. */
    private static final long CPU_SET_BYTES = 128;

    @TempDir
    Path tmp;

    @Test
    void openWriteReadPreadPwriteClose() throws Exception {
        String path = tmp.resolve("data").toString();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment hello = arena.allocateFrom("hello, ublk", StandardCharsets.US_ASCII);
            long length = hello.byteSize() - 1;
            int fd = Libc.open(path, OpenFlags.O_RDWR | OpenFlags.O_CREAT | OpenFlags.O_TRUNC | OpenFlags.O_CLOEXEC, 0600);
            assertThat(fd).isGreaterThanOrEqualTo(0);
            assertThat(Libc.write(fd, hello, length)).isEqualTo(length);
            MemorySegment patch = arena.allocateFrom("UBLK", StandardCharsets.US_ASCII);
            assertThat(Libc.pwrite(fd, patch, 4, 7)).isEqualTo(4);

            MemorySegment buf = arena.allocate(64);
            assertThat(Libc.pread(fd, buf, 64, 0)).isEqualTo(length);
            assertThat(buf.getString(0, StandardCharsets.US_ASCII)).isEqualTo("hello, UBLK");
            assertThat(Libc.pread(fd, buf, 4, 7)).isEqualTo(4);
            assertThat(Libc.read(fd, buf, 64)).as("file offset is at the end after write").isZero();
            assertThat(Libc.close(fd)).isZero();
            assertThat(Files.readString(Path.of(path))).isEqualTo("hello, UBLK");

            int again = Libc.open(path, OpenFlags.O_RDONLY, 0);
            MemorySegment all = arena.allocate(64);
            assertThat(Libc.read(again, all, 64)).isEqualTo(length);
            assertThat(Libc.write(again, all, 1)).as("read-only descriptor").isEqualTo(-Errno.EBADF);
            assertThat(Libc.close(again)).isZero();
        }
    }

    @Test
    void failuresReturnNegatedErrno() {
        assertThat(Libc.close(-1)).isEqualTo(-Errno.EBADF);
        assertThat(Libc.open(tmp.resolve("missing").toString(), OpenFlags.O_RDONLY, 0)).isEqualTo(-Errno.ENOENT);
    }

    @Test
    void errnoIsPerThread() throws Exception {
        AtomicReference<Integer> other = new AtomicReference<>();
        Thread thread = Thread.ofPlatform().start(() -> other.set(Libc.open(tmp.resolve("nope").toString(), 0, 0)));
        int here = Libc.close(-1);
        thread.join();
        assertThat(here).isEqualTo(-Errno.EBADF);
        assertThat(other.get()).isEqualTo(-Errno.ENOENT);
    }

    @Test
    void ioctlPassesThePointer() throws Exception {
        Path file = tmp.resolve("ioctl");
        Files.write(file, new byte[100]);
        int fd = Libc.open(file.toString(), OpenFlags.O_RDONLY, 0);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment count = arena.allocate(JAVA_INT);
            assertThat(Libc.ioctl(fd, FIONREAD, count)).isZero();
            assertThat(count.get(JAVA_INT, 0)).isEqualTo(100);
            assertThat(Libc.ioctl(fd, 0x7FFF_0000L, count)).as("unknown request").isEqualTo(-Errno.ENOTTY);
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void mmapMadviseMunmapAnonymousMemory() {
        long page = Libc.sysconf(Sysconf.SC_PAGESIZE);
        long length = 4 * page;
        long address = Libc.mmap(0, length, Mman.PROT_READ | Mman.PROT_WRITE,
                Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS | Mman.MAP_NORESERVE, -1, 0);
        assertThat(address).isPositive();
        assertThat(address % page).isZero();
        MemorySegment mapping = MemorySegment.ofAddress(address).reinterpret(length);
        mapping.set(JAVA_LONG, page, 0x1234_5678_9ABCL);
        assertThat(mapping.get(JAVA_LONG, page)).isEqualTo(0x1234_5678_9ABCL);
        assertThat(Libc.madvise(mapping, length, Mman.MADV_WILLNEED)).isZero();
        assertThat(Libc.madvise(mapping, length, Mman.MADV_DONTNEED)).isZero();
        assertThat(mapping.get(JAVA_LONG, page)).as("DONTNEED drops private anonymous pages").isZero();
        assertThat(Libc.madvise(mapping.asSlice(1), page, Mman.MADV_DONTNEED)).as("unaligned").isEqualTo(-Errno.EINVAL);
        assertThat(Libc.munmap(mapping, length)).isZero();

        assertThat(Libc.mmap(0, page, Mman.PROT_READ, Mman.MAP_PRIVATE, -1, 0)).as("no fd").isEqualTo(-Errno.EBADF);
        assertThat(Libc.mmap(0, 0, Mman.PROT_READ, Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS, -1, 0)).isEqualTo(-Errno.EINVAL);
    }

    @Test
    void eventfdCountsWritesAndReads() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(JAVA_LONG);
            int fd = Libc.eventfd(0, EventFd.EFD_CLOEXEC | EventFd.EFD_NONBLOCK);
            assertThat(fd).isGreaterThanOrEqualTo(0);
            assertThat(Libc.read(fd, value, 8)).as("empty counter").isEqualTo(-Errno.EAGAIN);
            value.set(JAVA_LONG, 0, 3);
            assertThat(Libc.write(fd, value, 8)).isEqualTo(8);
            assertThat(Libc.write(fd, value, 8)).isEqualTo(8);
            value.set(JAVA_LONG, 0, 0);
            assertThat(Libc.read(fd, value, 8)).isEqualTo(8);
            assertThat(value.get(JAVA_LONG, 0)).isEqualTo(6);
            assertThat(Libc.close(fd)).isZero();

            int semaphore = Libc.eventfd(2, EventFd.EFD_SEMAPHORE | EventFd.EFD_NONBLOCK);
            assertThat(Libc.read(semaphore, value, 8)).isEqualTo(8);
            assertThat(value.get(JAVA_LONG, 0)).isEqualTo(1);
            assertThat(Libc.read(semaphore, value, 8)).isEqualTo(8);
            assertThat(Libc.read(semaphore, value, 8)).isEqualTo(-Errno.EAGAIN);
            assertThat(Libc.close(semaphore)).isZero();
        }
    }

    @Test
    void getrlimitAndSetrlimitRoundTrip() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment limit = arena.allocate(Rlimit.LAYOUT);
            assertThat(Libc.getrlimit(Rlimit.RLIMIT_NOFILE, limit)).isZero();
            long soft = (long) Rlimit.RLIM_CUR.get(limit);
            long hard = (long) Rlimit.RLIM_MAX.get(limit);
            assertThat(soft).isPositive();
            assertThat(Long.compareUnsigned(soft, hard)).isLessThanOrEqualTo(0);
            assertThat(Libc.setrlimit(Rlimit.RLIMIT_NOFILE, limit)).isZero();
            assertThat(Libc.getrlimit(Rlimit.RLIMIT_MEMLOCK, limit)).isZero();
            assertThat(Libc.getrlimit(-1, limit)).isEqualTo(-Errno.EINVAL);
        }
    }

    @Test
    void affinityRoundTripAndPinning() throws Exception {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment mask = arena.allocate(CPU_SET_BYTES);
            assertThat(Libc.schedGetaffinity(0, CPU_SET_BYTES, mask)).isZero();
            int first = firstCpu(mask);
            assertThat(first).isGreaterThanOrEqualTo(0);

            AtomicReference<String> result = new AtomicReference<>();
            Thread pinned = Thread.ofPlatform().start(() -> {
                MemorySegment one = arena.allocate(CPU_SET_BYTES);
                one.set(JAVA_BYTE, first / 8, (byte) (1 << (first % 8)));
                int set = Libc.schedSetaffinity(0, CPU_SET_BYTES, one);
                MemorySegment back = arena.allocate(CPU_SET_BYTES);
                int get = Libc.schedGetaffinity(Libc.gettid(), CPU_SET_BYTES, back);
                result.set(set + " " + get + " " + (back.mismatch(one) == -1) + " " + Libc.schedGetcpu());
            });
            pinned.join();
            assertThat(result.get()).isEqualTo("0 0 true " + first);

            MemorySegment none = arena.allocate(CPU_SET_BYTES);
            assertThat(Libc.schedSetaffinity(0, CPU_SET_BYTES, none)).as("empty mask").isEqualTo(-Errno.EINVAL);
            MemorySegment after = arena.allocate(CPU_SET_BYTES);
            assertThat(Libc.schedGetaffinity(0, CPU_SET_BYTES, after)).isZero();
            assertThat(after.mismatch(mask)).as("this thread's mask is untouched").isEqualTo(-1);
        }
    }

    @Test
    void processThreadAndSystemQueries() throws Exception {
        assertThat(Libc.getpid()).isEqualTo((int) ProcessHandle.current().pid());
        int tid = Libc.gettid();
        assertThat(Libc.syscall(SyscallNr.GETTID, 0, 0, 0, 0, 0, 0)).isEqualTo(tid);
        AtomicReference<Integer> otherTid = new AtomicReference<>();
        Thread thread = Thread.ofPlatform().start(() -> otherTid.set(Libc.gettid()));
        thread.join();
        assertThat(otherTid.get()).isNotEqualTo(tid).isPositive();

        assertThat(Libc.schedGetcpu()).isBetween(0, 4095);
        long page = Libc.sysconf(Sysconf.SC_PAGESIZE);
        assertThat(Long.bitCount(page)).isOne();
        assertThat(page).isGreaterThanOrEqualTo(4096);
        assertThat(Libc.sysconf(Sysconf.SC_NPROCESSORS_ONLN)).isPositive();
        assertThat(Libc.sysconf(-42)).isEqualTo(-Errno.EINVAL);
        assertThat(Libc.syscall(100_000, 0, 0, 0, 0, 0, 0)).isEqualTo(-Errno.ENOSYS);
    }

    private static int firstCpu(MemorySegment mask) {
        for (int cpu = 0; cpu < CPU_SET_BYTES * 8; cpu++) {
            if ((mask.get(JAVA_BYTE, cpu / 8) & (1 << (cpu % 8))) != 0) {
                return cpu;
            }
        }
        return -1;
    }
}
