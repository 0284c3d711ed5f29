package io.ublk.headers;

/** Flags of {@code open(2)} ({@code <fcntl.h>}, x86_64). */
public final class OpenFlags {
    /** Open for reading only. */
    public static final int O_RDONLY = 0;
    /** Open for writing only. */
    public static final int O_WRONLY = 1;
    /** Open for reading and writing. */
    public static final int O_RDWR = 2;
    /** Create the file if it does not exist (needs the mode argument). */
    public static final int O_CREAT = 0100;
    /** With O_CREAT: fail if the file exists. On a block device: fail with EBUSY if it is mounted or claimed. */
    public static final int O_EXCL = 0200;
    /** Truncate a regular file to length 0. */
    public static final int O_TRUNC = 01000;
    /** Non-blocking I/O. */
    public static final int O_NONBLOCK = 04000;
    /** Bypass the page cache; buffers, offsets and lengths must be block-aligned. */
    public static final int O_DIRECT = 040000;
    /** Close the descriptor on exec. */
    public static final int O_CLOEXEC = 02000000;

    private OpenFlags() {}
}
