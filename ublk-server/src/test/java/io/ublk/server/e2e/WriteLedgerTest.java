package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** Host tier: the stamp format and the crash rule the kill -9 trials check blocks by. */
class WriteLedgerTest {
    private static final int B = StampedBlock.SIZE;

    @Test
    void stampsNameTheirOffsetAndSeqAndCatchTornBytes() {
        ByteBuffer buf = StampedBlock.aligned(2 * B);
        StampedBlock.fill(buf, 0, 5L * B, 77, 2);
        StampedBlock.fill(buf, B, 9L * B, 78, 1);
        assertThat(StampedBlock.read(buf, 0, 5L * B)).isEqualTo(new StampedBlock.Stamp(StampedBlock.Kind.STAMPED,
                5L * B, 77, 2));
        assertThat(StampedBlock.read(buf, B, 6L * B).kind()).isEqualTo(StampedBlock.Kind.MISPLACED);
        buf.put(B + 1000, (byte) (buf.get(B + 1000) ^ 1));
        assertThat(StampedBlock.read(buf, B, 9L * B).kind()).isEqualTo(StampedBlock.Kind.GARBAGE);
        ByteBuffer zero = StampedBlock.aligned(B);
        assertThat(StampedBlock.read(zero, 0, 0).kind()).isEqualTo(StampedBlock.Kind.ZERO);
    }

    private static StampedBlock.Stamp seq(int block, long s) {
        return new StampedBlock.Stamp(StampedBlock.Kind.STAMPED, (long) block * B, s, 0);
    }

    private static final StampedBlock.Stamp ZERO = new StampedBlock.Stamp(StampedBlock.Kind.ZERO, 0, 0, 0);

    @Test
    void aBlockHoldsItsLastWriteBeforeTheLastFsyncOrALaterOne() {
        WriteLedger ledger = new WriteLedger(4);
        ledger.begin(0, 1);
        WriteLedger.Log a = ledger.log();
        WriteLedger.Log b = ledger.log();
        WriteLedger.Write w1 = a.issue(0, 2); // blocks 0, 1
        a.completed(w1);
        WriteLedger.Write w2 = a.issue(0, 1);
        a.completed(w2);
        long f = b.fsyncIssued(); // covers w1 and w2, from the other thread
        WriteLedger.Write w3 = a.issue(0, 1);
        a.completed(w3); // completed during the fsync: not covered
        b.fsynced(f);
        WriteLedger.Write w4 = a.issue(0, 1); // in flight at the crash
        WriteLedger.Write w5 = b.issue(2, 1);
        b.completed(w5); // after the last fsync: block 2 may hold it or zeros
        ledger.seal();
        assertThat(ledger.pinnedBlocks()).isEqualTo(2);
        assertThat(ledger.check(0, seq(0, w2.seq), 0)).isNull();
        assertThat(ledger.check(1, seq(1, w1.seq), 0)).isNull();
        assertThat(ledger.check(2, ZERO, 0)).isNull();
        assertThat(ledger.check(3, ZERO, 0)).isNull();
        assertThat(ledger.check(0, seq(0, w3.seq), 0)).isNull(); // later writes may have landed
        assertThat(ledger.check(0, seq(0, w4.seq), 0)).isNull();
        assertThat(ledger.check(0, seq(0, w1.seq), 0)).isNotNull();

        ledger.begin(1, 2); // nothing written: what the last check read (w1) is all the block may hold
        ledger.seal();
        assertThat(ledger.check(0, seq(0, w1.seq), 0)).isNull();
        assertThat(ledger.check(0, seq(0, w2.seq), 0)).isNotNull();

        ledger.begin(2, 3);
        WriteLedger.Log c = ledger.log();
        WriteLedger.Write w6 = c.issue(0, 1);
        c.completed(w6);
        long g = c.fsyncIssued();
        c.fsynced(g);
        WriteLedger.Write w7 = c.issue(0, 1);
        c.completed(w7);
        ledger.seal();
        assertThat(ledger.check(0, seq(0, w7.seq), 0)).isNull(); // a later write may have landed
    }

    @Test
    void anOlderWriteZerosOrForeignBytesWhereAnFsyncedWriteWasFail() {
        WriteLedger ledger = new WriteLedger(3);
        ledger.begin(4, 99);
        WriteLedger.Log a = ledger.log();
        WriteLedger.Write old = a.issue(0, 3);
        a.completed(old);
        WriteLedger.Write last = a.issue(0, 3);
        a.completed(last);
        long f = a.fsyncIssued();
        a.fsynced(f);
        ledger.seal();
        WriteLedger.Failure stale = ledger.check(0, seq(0, old.seq), 0);
        assertThat(stale).isNotNull();
        assertThat(stale.toString()).contains("trial 4", "seed 99", "offset 0x0", "seq " + last.seq,
                "an older write of this block");
        assertThat(ledger.check(1, ZERO, 0).toString()).contains("offset 0x1000", "the fsynced write was lost");
        StampedBlock.Stamp torn = new StampedBlock.Stamp(StampedBlock.Kind.GARBAGE, 2L * B, 0, 0);
        assertThat(ledger.check(2, torn, 1234)).isNotNull();

        // The torn block's bytes are its baseline now: unchanged, they are not reported twice.
        ledger.begin(5, 100);
        ledger.seal();
        assertThat(ledger.check(2, torn, 1234)).isNull();
        assertThat(ledger.check(2, torn, 999)).isNotNull();
    }

    @Test
    void withoutACoveringFsyncTheBaselineOrAnyWriteOfTheTrialIsFine() {
        WriteLedger ledger = new WriteLedger(1);
        ledger.begin(0, 1);
        WriteLedger.Log a = ledger.log();
        WriteLedger.Write w1 = a.issue(0, 1);
        a.completed(w1);
        ledger.seal();
        assertThat(ledger.check(0, ZERO, 0)).isNull();
        ledger.begin(1, 2);
        WriteLedger.Log b = ledger.log();
        WriteLedger.Write w2 = b.issue(0, 1);
        b.completed(w2);
        ledger.seal();
        assertThat(ledger.check(0, seq(0, w2.seq), 0)).isNull();
        ledger.begin(2, 3);
        ledger.log().issue(0, 1);
        ledger.seal();
        // The baseline is w2 now: w1 (older) is not.
        assertThat(ledger.check(0, seq(0, w1.seq), 0)).isNotNull();
    }
}
