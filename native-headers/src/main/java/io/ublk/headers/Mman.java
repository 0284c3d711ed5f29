package io.ublk.headers;

/** Constants of {@code mmap(2)} and {@code madvise(2)} ({@code <sys/mman.h>}, x86_64). */
public final class Mman {
    /** Pages may be read. */
    public static final int PROT_READ = 0x1;
    /** Pages may be written. */
    public static final int PROT_WRITE = 0x2;
    /** Updates are visible to other mappings of the same object (ublk descriptor arrays). */
    public static final int MAP_SHARED = 0x01;
    /** Copy-on-write private mapping. */
    public static final int MAP_PRIVATE = 0x02;
    /** Not backed by a file; fd must be -1 and offset 0. */
    public static final int MAP_ANONYMOUS = 0x20;
    /** Do not reserve swap space. */
    public static final int MAP_NORESERVE = 0x4000;
    /** Pre-fault the page tables (read-ahead for file mappings). */
    public static final int MAP_POPULATE = 0x8000;
    /**
     * C's {@code (long) MAP_FAILED}. {@link Libc#mmap} never returns it: it returns {@code -errno}
     * instead, so any negative result is a failure.
     */
    public static final long MAP_FAILED = -1L;
    /** Drop the pages; anonymous private memory reads back as zeros. */
    public static final int MADV_DONTNEED = 4;
    /** Expect access soon (read ahead). */
    public static final int MADV_WILLNEED = 3;
    /** Back the range with transparent huge pages. */
    public static final int MADV_HUGEPAGE = 14;
    /** Never back the range with transparent huge pages. */
    public static final int MADV_NOHUGEPAGE = 15;

    private Mman() {}
}
