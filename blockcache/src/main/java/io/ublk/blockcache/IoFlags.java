package io.ublk.blockcache;

/** Flags of {@link BlockTarget} operations (independent of the kernel's encoding). */
public final class IoFlags {
    private IoFlags() {}

    /** Forced unit access: the write is durable when it answers. */
    public static final int FUA = 1;
    /** Write-zeroes must not deallocate the range. */
    public static final int NOUNMAP = 1 << 1;
}
