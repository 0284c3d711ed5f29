package io.ublk.server.io;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.headers.UblkIoOp;
import io.ublk.headers.UblksrvIoDesc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** Decoding of the kernel's descriptor array, laid out as the kernel writes it. */
class QueueDescriptorsTest {
    @Test
    void decodesEachTagsDescriptor() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment iods = arena.allocate(UblksrvIoDesc.SIZE * 4, 8);
            // tag 2: a 64 KiB FUA write at sector 1000; tag 3: a discard at the far end of a 16 TiB device.
            MemorySegment d2 = iods.asSlice(2 * UblksrvIoDesc.SIZE, UblksrvIoDesc.SIZE);
            UblksrvIoDesc.OP_FLAGS.set(d2, UblkIoOp.OP_WRITE | UblkIoOp.F_FUA);
            UblksrvIoDesc.NR_SECTORS.set(d2, 128);
            UblksrvIoDesc.START_SECTOR.set(d2, 1000L);
            MemorySegment d3 = iods.asSlice(3 * UblksrvIoDesc.SIZE, UblksrvIoDesc.SIZE);
            UblksrvIoDesc.OP_FLAGS.set(d3, UblkIoOp.OP_DISCARD);
            UblksrvIoDesc.NR_SECTORS.set(d3, 8);
            UblksrvIoDesc.START_SECTOR.set(d3, (16L << 40 >> 9) - 8);

            QueueDescriptors q = QueueDescriptors.over(iods);
            assertThat(UblkIoOp.op(q.opFlags(2))).isEqualTo(UblkIoOp.OP_WRITE);
            assertThat(q.opFlags(2) & UblkIoOp.F_FUA).isNotZero();
            assertThat(q.nrSectors(2)).isEqualTo(128);
            assertThat(q.startSector(2)).isEqualTo(1000L);
            assertThat(UblkIoOp.op(q.opFlags(3))).isEqualTo(UblkIoOp.OP_DISCARD);
            assertThat(q.startSector(3) << 9).isEqualTo((16L << 40) - 4096);
            assertThat(q.nrSectors(0)).isZero();
            q.close(); // memory owned by the caller: not unmapped
            assertThat(iods.get(java.lang.foreign.ValueLayout.JAVA_INT, 2 * UblksrvIoDesc.SIZE + 4)).isEqualTo(128);
        }
    }
}
