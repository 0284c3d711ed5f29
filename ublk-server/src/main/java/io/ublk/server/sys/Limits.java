package io.ublk.server.sys;

import io.ublk.headers.Libc;
import io.ublk.headers.Rlimit;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Process resource limits the server adjusts at start-up. */
public final class Limits {
    private Limits() {}

    /**
     * Raises the soft open-files limit to the hard limit (each device holds a char device fd, and
     * the kernel and tools hold more): thousands of devices need more than the usual 1024.
     *
     * @return the soft limit now in force
     */
    public static long raiseOpenFiles() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment rl = arena.allocate(Rlimit.LAYOUT);
            NativeException.check(Libc.getrlimit(Rlimit.RLIMIT_NOFILE, rl), "getrlimit", "RLIMIT_NOFILE");
            long max = (long) Rlimit.RLIM_MAX.get(rl);
            if ((long) Rlimit.RLIM_CUR.get(rl) != max) {
                Rlimit.RLIM_CUR.set(rl, max);
                NativeException.check(Libc.setrlimit(Rlimit.RLIMIT_NOFILE, rl), "setrlimit", "RLIMIT_NOFILE=" + max);
            }
            return max;
        }
    }
}
