package io.ublk.headers;

/** Names for {@link Libc#sysconf(int)} ({@code <unistd.h>} {@code _SC_*}; the leading underscore is dropped). */
public final class Sysconf {
    /** {@code _SC_PAGESIZE}: the base page size in bytes. */
    public static final int SC_PAGESIZE = 30;
    /** {@code _SC_NPROCESSORS_ONLN}: processors currently online. */
    public static final int SC_NPROCESSORS_ONLN = 84;

    private Sysconf() {}
}
