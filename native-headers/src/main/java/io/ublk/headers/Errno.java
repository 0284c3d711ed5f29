package io.ublk.headers;

/**
 * Linux errno values (x86_64, {@code <errno.h>}) and their symbolic names.
 *
 * <p>{@link Libc} returns {@code -errno} on failure, and ublk completions carry {@code -errno} in
 * {@code cqe->res}; {@link #name(int)} accepts either sign.
 */
public final class Errno {
    /** Operation not permitted. */
    public static final int EPERM = 1;
    /** No such file or directory. */
    public static final int ENOENT = 2;
    /** No such process. */
    public static final int ESRCH = 3;
    /** Interrupted system call. */
    public static final int EINTR = 4;
    /** I/O error. */
    public static final int EIO = 5;
    /** No such device or address. */
    public static final int ENXIO = 6;
    /** Argument list too long. */
    public static final int E2BIG = 7;
    /** Bad file descriptor. */
    public static final int EBADF = 9;
    /** Resource temporarily unavailable (same value as EWOULDBLOCK). */
    public static final int EAGAIN = 11;
    /** Out of memory. */
    public static final int ENOMEM = 12;
    /** Permission denied. */
    public static final int EACCES = 13;
    /** Bad address. */
    public static final int EFAULT = 14;
    /** Device or resource busy. */
    public static final int EBUSY = 16;
    /** File exists. */
    public static final int EEXIST = 17;
    /** No such device (ublk: the queue is aborting, do not fetch again). */
    public static final int ENODEV = 19;
    /** Invalid argument. */
    public static final int EINVAL = 22;
    /** Too many open files in the system. */
    public static final int ENFILE = 23;
    /** Too many open files in this process (RLIMIT_NOFILE). */
    public static final int EMFILE = 24;
    /** Inappropriate ioctl for device. */
    public static final int ENOTTY = 25;
    /** No space left on device. */
    public static final int ENOSPC = 28;
    /** Read-only file system. */
    public static final int EROFS = 30;
    /** Broken pipe. */
    public static final int EPIPE = 32;
    /** Result out of range. */
    public static final int ERANGE = 34;
    /** Function not implemented (for example an unknown syscall or io_uring opcode). */
    public static final int ENOSYS = 38;
    /** Timer expired (io_uring timeouts complete with it). */
    public static final int ETIME = 62;
    /** Value too large for the data type. */
    public static final int EOVERFLOW = 75;
    /** Operation not supported on the endpoint. */
    public static final int EOPNOTSUPP = 95;
    /** Operation not supported; equals {@link #EOPNOTSUPP} on Linux. */
    public static final int ENOTSUP = 95;
    /** Connection refused. */
    public static final int ECONNREFUSED = 111;
    /** Connection timed out. */
    public static final int ETIMEDOUT = 110;
    /** Operation already in progress (io_uring cancel of a request that is running). */
    public static final int EALREADY = 114;
    /** Operation canceled. */
    public static final int ECANCELED = 125;

    private Errno() {}

    /**
     * Symbolic name of an errno value, for messages.
     *
     * @param errno the value, positive or negated (kernel style)
     * @return "EINVAL" and the like, or "errno 123" for values without a constant here
     */
    public static String name(int errno) {
        int e = errno < 0 ? -errno : errno;
        return switch (e) {
            case EPERM -> "EPERM";
            case ENOENT -> "ENOENT";
            case ESRCH -> "ESRCH";
            case EINTR -> "EINTR";
            case EIO -> "EIO";
            case ENXIO -> "ENXIO";
            case E2BIG -> "E2BIG";
            case EBADF -> "EBADF";
            case EAGAIN -> "EAGAIN";
            case ENOMEM -> "ENOMEM";
            case EACCES -> "EACCES";
            case EFAULT -> "EFAULT";
            case EBUSY -> "EBUSY";
            case EEXIST -> "EEXIST";
            case ENODEV -> "ENODEV";
            case EINVAL -> "EINVAL";
            case ENFILE -> "ENFILE";
            case EMFILE -> "EMFILE";
            case ENOTTY -> "ENOTTY";
            case ENOSPC -> "ENOSPC";
            case EROFS -> "EROFS";
            case EPIPE -> "EPIPE";
            case ERANGE -> "ERANGE";
            case ENOSYS -> "ENOSYS";
            case ETIME -> "ETIME";
            case EOVERFLOW -> "EOVERFLOW";
            case EOPNOTSUPP -> "EOPNOTSUPP";
            case ETIMEDOUT -> "ETIMEDOUT";
            case ECONNREFUSED -> "ECONNREFUSED";
            case EALREADY -> "EALREADY";
            case ECANCELED -> "ECANCELED";
            default -> "errno " + e;
        };
    }
}
