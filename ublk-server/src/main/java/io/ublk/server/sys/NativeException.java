package io.ublk.server.sys;

import io.ublk.headers.Errno;

/**
 * A system call failed. Carries the errno so callers can branch on it; the message names the call,
 * the errno by name and the arguments that matter.
 */
public final class NativeException extends RuntimeException {
    private final String call;
    private final int errno;

    public NativeException(String call, int errno, String detail) {
        super(call + " failed: " + Errno.name(errno) + (detail == null || detail.isEmpty() ? "" : " (" + detail + ")"));
        this.call = call;
        this.errno = Math.abs(errno);
    }

    /** The failed call, e.g. {@code io_uring_setup}. */
    public String call() {
        return call;
    }

    /** The positive errno. */
    public int errno() {
        return errno;
    }

    /** The errno's symbolic name, e.g. {@code EINVAL}. */
    public String errnoName() {
        return Errno.name(errno);
    }

    /** Returns {@code result} when it is not negative; throws for a {@code -errno} result. */
    public static long check(long result, String call, String detail) {
        if (result < 0) {
            throw new NativeException(call, (int) -result, detail);
        }
        return result;
    }

    /** {@link #check(long, String, String)} for int results. */
    public static int check(int result, String call, String detail) {
        if (result < 0) {
            throw new NativeException(call, -result, detail);
        }
        return result;
    }
}
