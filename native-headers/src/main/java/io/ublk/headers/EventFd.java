package io.ublk.headers;

/** Flags of {@code eventfd(2)} ({@code <sys/eventfd.h>}); the counter is read and written as 8 bytes. */
public final class EventFd {
    /** Read decrements the counter by 1 instead of resetting it to 0. */
    public static final int EFD_SEMAPHORE = 1;
    /** Close the descriptor on exec (= O_CLOEXEC). */
    public static final int EFD_CLOEXEC = 02000000;
    /** Non-blocking reads and writes (= O_NONBLOCK). */
    public static final int EFD_NONBLOCK = 04000;

    private EventFd() {}
}
