package io.ublk.headers;

/** x86_64 system call numbers for {@link Libc#syscall} ({@code <sys/syscall.h>} {@code SYS_*}). */
public final class SyscallNr {
    /** {@code SYS_gettid}. */
    public static final long GETTID = 186;
    /** {@code SYS_io_uring_setup}: {@code (u32 entries, struct io_uring_params *p)}. */
    public static final long IO_URING_SETUP = 425;
    /** {@code SYS_io_uring_enter}: {@code (fd, to_submit, min_complete, flags, argp, argsz)}. */
    public static final long IO_URING_ENTER = 426;
    /** {@code SYS_io_uring_register}: {@code (fd, opcode, arg, nr_args)}. */
    public static final long IO_URING_REGISTER = 427;

    private SyscallNr() {}
}
