package io.ublk.server.device;

import io.ublk.headers.UblkParamBasic;
import io.ublk.headers.UblkParamDiscard;
import io.ublk.headers.UblkParamType;
import io.ublk.headers.UblkParams;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The {@code ublk_params} this server sets: 512-byte logical and 4 KiB physical blocks, a volatile
 * write cache with FUA (so the kernel sends FLUSH and FUA and durability is ours to keep), requests
 * no larger than one bounce slot, and discard / write-zeroes.
 */
public final class DeviceParams {
    /** Discard and write-zeroes carry no data, so they may be much larger than a slot: 1 GiB. */
    static final int MAX_DISCARD_SECTORS = (1 << 30) >> 9;

    private DeviceParams() {}

    /** Fills a new {@code ublk_params} in {@code arena} for {@code config}. */
    public static MemorySegment of(DeviceConfig config, Arena arena) {
        MemorySegment p = arena.allocate(UblkParams.LAYOUT);
        UblkParams.LEN.set(p, (int) UblkParams.SIZE);
        UblkParams.TYPES.set(p, UblkParamType.BASIC | UblkParamType.DISCARD);
        MemorySegment basic = p.asSlice(UblkParams.BASIC_OFFSET, UblkParamBasic.SIZE);
        UblkParamBasic.ATTRS.set(basic, UblkParamType.ATTR_VOLATILE_CACHE | UblkParamType.ATTR_FUA);
        UblkParamBasic.LOGICAL_BS_SHIFT.set(basic, (byte) 9);
        UblkParamBasic.PHYSICAL_BS_SHIFT.set(basic, (byte) 12);
        UblkParamBasic.IO_MIN_SHIFT.set(basic, (byte) 12);
        UblkParamBasic.IO_OPT_SHIFT.set(basic, (byte) Integer.numberOfTrailingZeros(config.slotSize()));
        UblkParamBasic.MAX_SECTORS.set(basic, config.slotSize() >> 9);
        UblkParamBasic.DEV_SECTORS.set(basic, config.sizeBytes() >> 9);
        MemorySegment discard = p.asSlice(UblkParams.DISCARD_OFFSET, UblkParamDiscard.SIZE);
        UblkParamDiscard.DISCARD_GRANULARITY.set(discard, 4096);
        UblkParamDiscard.MAX_DISCARD_SECTORS.set(discard, MAX_DISCARD_SECTORS);
        UblkParamDiscard.MAX_WRITE_ZEROES_SECTORS.set(discard, MAX_DISCARD_SECTORS);
        UblkParamDiscard.MAX_DISCARD_SEGMENTS.set(discard, (short) 1);
        return p;
    }
}
