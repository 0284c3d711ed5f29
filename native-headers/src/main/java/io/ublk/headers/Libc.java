package io.ublk.headers;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * glibc downcalls, raw: one static method per C function, same arguments, same meaning.
 *
 * <p><b>Convention:</b> every method returns the C result on success and {@code -errno} on failure
 * (kernel style, see {@link Errno#name(int)}); no method throws for an OS error. errno is captured
 * by the linker right after the call ({@code captureCallState("errno")}) into a segment allocated
 * once per thread, so calls allocate nothing after a thread's first one (except {@link #open},
 * which allocates its path string: control path only).
 *
 * <p>Buffers are native segments; their size is not checked against {@code count} (raw). Runtime
 * exceptions from the linker itself (for example a heap segment passed as a pointer) propagate.
 */
public final class Libc {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle CAPTURED_ERRNO = MethodHandles.insertCoordinates(
            CAPTURE_LAYOUT.varHandle(PathElement.groupElement("errno")), 1, 0L);
    /** Per-thread capture segment; {@code ofAuto} frees it once its thread is gone. */
    private static final ThreadLocal<MemorySegment> CALL_STATE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

    private static final MethodHandle OPEN = capturing("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = capturing("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle READ = capturing("read",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle WRITE = capturing("write",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle PREAD = capturing("pread64",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PWRITE = capturing("pwrite64",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle MMAP = capturing("mmap64",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = capturing("munmap",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle MADVISE = capturing("madvise",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle EVENTFD = capturing("eventfd",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle IOCTL = capturing("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle SCHED_SETAFFINITY = capturing("sched_setaffinity",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle SCHED_GETAFFINITY = capturing("sched_getaffinity",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle SCHED_GETCPU = capturing("sched_getcpu", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle GETRLIMIT = capturing("getrlimit",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle SETRLIMIT = capturing("setrlimit",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle GETPID = plain("getpid", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle GETTID = plain("gettid", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle SYSCONF = capturing("sysconf", FunctionDescriptor.of(JAVA_LONG, JAVA_INT));
    private static final MethodHandle ERRNO_LOCATION = plain("__errno_location", FunctionDescriptor.of(ADDRESS));
    private static final MethodHandle SYSCALL = capturing("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            Linker.Option.firstVariadicArg(1));

    private Libc() {}

    /** {@code open(2)}: a descriptor, or -errno. Allocates the C string: control path only. */
    public static int open(String path, int flags, int mode) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cPath = arena.allocateFrom(path);
            MemorySegment state = callState();
            int r = (int) OPEN.invokeExact(state, cPath, flags, mode);
            return r < 0 ? -errno(state) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code close(2)}: 0, or -errno. */
    public static int close(int fd) {
        try {
            MemorySegment state = callState();
            int r = (int) CLOSE.invokeExact(state, fd);
            return r < 0 ? -errno(state) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code read(2)} into {@code buf}: bytes read (0 at end of file), or -errno. */
    public static long read(int fd, MemorySegment buf, long count) {
        try {
            MemorySegment state = callState();
            long r = (long) READ.invokeExact(state, fd, buf, count);
            return r < 0 ? -errno(state) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code write(2)} from {@code buf}: bytes written, or -errno. */
    public static long write(int fd, MemorySegment buf, long count) {
        try {
            MemorySegment state = callState();
            long r = (long) WRITE.invokeExact(state, fd, buf, count);
            return r < 0 ? -errno(state) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code pread(2)} at {@code offset} (64-bit; ublk USER_COPY positions need it): bytes read, or -errno. */
    public static long pread(int fd, MemorySegment buf, long count, long offset) {
        try {
            MemorySegment state = callState();
            long r = (long) PREAD.invokeExact(state, fd, buf, count, offset);
            return r < 0 ? -errno(state) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code pwrite(2)} at {@code offset}: bytes written, or -errno. */
    public static long pwrite(int fd, MemorySegment buf, long count, long offset) {
        try {
            MemorySegment state = callState();
            long r = (long) PWRITE.invokeExact(state, fd, buf, count, offset);
            return r < 0 ? -errno(state) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * {@code mmap(2)}: the mapping's address, or -errno (never {@link Mman#MAP_FAILED}). Wrap the
     * address with {@code MemorySegment.ofAddress(a).reinterpret(length)}.
     */
    public static long mmap(long addr, long length, int prot, int flags, int fd, long offset) {
        try {
            MemorySegment state = callState();
            MemorySegment r = (MemorySegment) MMAP.invokeExact(state, MemorySegment.ofAddress(addr), length, prot, flags, fd, offset);
            return r.address() == Mman.MAP_FAILED ? -errno(state) : r.address();
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code munmap(2)} of {@code length} bytes at {@code addr}'s address: 0, or -errno. */
    public static int munmap(MemorySegment addr, long length) {
        try {
            MemorySegment state = callState();
            int r = (int) MUNMAP.invokeExact(state, addr, length);
            return r < 0 ? -errno(state) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code madvise(2)} with a {@code Mman.MADV_*} advice: 0, or -errno. */
    public static int madvise(MemorySegment addr, long length, int advice) {
        try {
            MemorySegment state = callState();
            int r = (int) MADVISE.invokeExact(state, addr, length, advice);
            return r < 0 ? -errno(state) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code eventfd(2)} with {@code EventFd.EFD_*} flags: a descriptor, or -errno. */
    public static int eventfd(int initval, int flags) {
        try {
            MemorySegment state = callState();
            int r = (int) EVENTFD.invokeExact(state, initval, flags);
            return r < 0 ? -errno(state) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code ioctl(2)} with a pointer argument: the (non-negative) result, or -errno. */
    public static int ioctl(int fd, long request, MemorySegment arg) {
        try {
            MemorySegment state = callState();
            int r = (int) IOCTL.invokeExact(state, fd, request, arg);
            return r < 0 ? -errno(state) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * {@code sched_setaffinity(2)}: pins thread {@code pid} (0 = calling thread) to the CPUs set in
     * the {@code cpusetsize}-byte bit mask (bit n of byte n/8 = CPU n): 0, or -errno.
     */
    public static int schedSetaffinity(int pid, long cpusetsize, MemorySegment mask) {
        try {
            MemorySegment state = callState();
            int r = (int) SCHED_SETAFFINITY.invokeExact(state, pid, cpusetsize, mask);
            return r < 0 ? -errno(state) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code sched_getaffinity(2)} (glibc wrapper): 0, or -errno; the mask format is as in {@link #schedSetaffinity}. */
    public static int schedGetaffinity(int pid, long cpusetsize, MemorySegment mask) {
        try {
            MemorySegment state = callState();
            int r = (int) SCHED_GETAFFINITY.invokeExact(state, pid, cpusetsize, mask);
            return r < 0 ? -errno(state) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code sched_getcpu(3)}: the CPU the caller runs on now, or -errno. */
    public static int schedGetcpu() {
        try {
            MemorySegment state = callState();
            int r = (int) SCHED_GETCPU.invokeExact(state);
            return r < 0 ? -errno(state) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code getrlimit(2)} into an {@link Rlimit} segment: 0, or -errno. */
    public static int getrlimit(int resource, MemorySegment rlim) {
        try {
            MemorySegment state = callState();
            int r = (int) GETRLIMIT.invokeExact(state, resource, rlim);
            return r < 0 ? -errno(state) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code setrlimit(2)} from an {@link Rlimit} segment: 0, or -errno. */
    public static int setrlimit(int resource, MemorySegment rlim) {
        try {
            MemorySegment state = callState();
            int r = (int) SETRLIMIT.invokeExact(state, resource, rlim);
            return r < 0 ? -errno(state) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code getpid(2)}: never fails. */
    public static int getpid() {
        try {
            return (int) GETPID.invokeExact();
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code gettid(2)}: the caller's kernel thread id (the OS thread, even for a virtual thread's carrier); never fails. */
    public static int gettid() {
        try {
            return (int) GETTID.invokeExact();
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * {@code sysconf(3)} with a {@code Sysconf.SC_*} name: the value, or -errno ({@code -EINVAL} for
     * an unknown name). A limit with no definite value gives -1 (errno unchanged, which C tells
     * apart by clearing errno first; done here too).
     */
    public static long sysconf(int name) {
        try {
            MemorySegment errnoLocation = ((MemorySegment) ERRNO_LOCATION.invokeExact()).reinterpret(JAVA_INT.byteSize());
            errnoLocation.set(JAVA_INT, 0, 0);
            MemorySegment state = callState();
            long r = (long) SYSCONF.invokeExact(state, name);
            if (r != -1) {
                return r;
            }
            int errno = errno(state);
            return errno == 0 ? -1 : -errno;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * The variadic C {@code syscall(2)} wrapper with six {@code long} arguments (unused ones are
     * ignored by the kernel; pass 0). Returns the result, or -errno when the kernel returned one.
     * Numbers: {@link SyscallNr}.
     */
    public static long syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6) {
        try {
            MemorySegment state = callState();
            long r = (long) SYSCALL.invokeExact(state, number, a1, a2, a3, a4, a5, a6);
            return r == -1 ? -errno(state) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    private static MemorySegment callState() {
        return CALL_STATE.get();
    }

    private static int errno(MemorySegment state) {
        return (int) CAPTURED_ERRNO.get(state);
    }

    private static MethodHandle capturing(String name, FunctionDescriptor descriptor, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(extra, 0, options, 1, extra.length);
        return LINKER.downcallHandle(symbol(name), descriptor, options);
    }

    private static MethodHandle plain(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(symbol(name), descriptor);
    }

    private static MemorySegment symbol(String name) {
        return LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name));
    }

    /** Downcalls declare {@code Throwable}; only unchecked ones can occur. */
    private static RuntimeException unexpected(Throwable t) {
        if (t instanceof RuntimeException e) {
            throw e;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException("checked exception from a downcall", t);
    }
}
