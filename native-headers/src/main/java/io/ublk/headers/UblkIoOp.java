package io.ublk.headers;

/**
 * Request ops and flags in {@code UblksrvIoDesc.op_flags} (bits 0-7 op, 8-31 flags), and the
 * io-command results. Names drop the {@code UBLK_IO_} prefix: {@code OP_*}, {@code F_*}, {@code RES_*}.
 */
public final class UblkIoOp {
    /** Read {@code nr_sectors} from {@code start_sector}. */
    public static final int OP_READ = 0;
    /** Write. */
    public static final int OP_WRITE = 1;
    /** Flush the volatile cache (sent only with ATTR_VOLATILE_CACHE). */
    public static final int OP_FLUSH = 2;
    /** Discard. */
    public static final int OP_DISCARD = 3;
    /** Write same. */
    public static final int OP_WRITE_SAME = 4;
    /** Write zeroes. */
    public static final int OP_WRITE_ZEROES = 5;
    /** Zoned: open a zone. */
    public static final int OP_ZONE_OPEN = 10;
    /** Zoned: close a zone. */
    public static final int OP_ZONE_CLOSE = 11;
    /** Zoned: finish a zone. */
    public static final int OP_ZONE_FINISH = 12;
    /** Zoned: append; the written LBA goes back in {@code UblksrvIoCmd.zone_append_lba}. */
    public static final int OP_ZONE_APPEND = 13;
    /** Zoned: reset all zones. */
    public static final int OP_ZONE_RESET_ALL = 14;
    /** Zoned: reset a zone. */
    public static final int OP_ZONE_RESET = 15;
    /** Zoned: report up to {@code nr_zones} zones as a {@code struct blk_zone} array. */
    public static final int OP_REPORT_ZONES = 18;

    /** Fail fast on device errors. */
    public static final int F_FAILFAST_DEV = 1 << 8;
    /** Fail fast on transport errors. */
    public static final int F_FAILFAST_TRANSPORT = 1 << 9;
    /** Fail fast on driver errors. */
    public static final int F_FAILFAST_DRIVER = 1 << 10;
    /** Metadata I/O. */
    public static final int F_META = 1 << 11;
    /** Forced unit access: durable before completion (sent only with ATTR_FUA). */
    public static final int F_FUA = 1 << 13;
    /** WRITE_ZEROES: do not deallocate. */
    public static final int F_NOUNMAP = 1 << 15;
    /** Swap I/O. */
    public static final int F_SWAP = 1 << 16;

    /** Command completion: a request is in the descriptor. */
    public static final int RES_OK = 0;
    /** Command completion (NEED_GET_DATA devices): send NEED_GET_DATA for this WRITE. */
    public static final int RES_NEED_GET_DATA = 1;
    /** Command completion {@code -ENODEV}: the queue is going away; do not fetch again. */
    public static final int RES_ABORT = -Errno.ENODEV;

    private UblkIoOp() {}

    /** {@code ublksrv_get_op()}: the op of an {@code op_flags} value. */
    public static int op(int opFlags) {
        return opFlags & 0xff;
    }

    /** {@code ublksrv_get_flags()}: the flags of an {@code op_flags} value, shifted down by 8. */
    public static int flags(int opFlags) {
        return opFlags >>> 8;
    }
}
