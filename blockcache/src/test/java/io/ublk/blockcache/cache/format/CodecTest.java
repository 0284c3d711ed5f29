package io.ublk.blockcache.cache.format;

import java.util.Random;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class CodecTest {
    @Test
    void theCrcOfATailFollowsFromTheCrcsOfTheWholeAndTheHead() {
        Random r = new Random(5);
        int[] lengths = {0, 1, 7, 48, 4096, 131_072, 131_072 + 48, 1 << 20};
        for (int head : new int[] {0, 1, 48, 4096}) {
            for (int tail : lengths) {
                byte[] all = new byte[head + tail];
                r.nextBytes(all);
                int whole = Codec.crc32c(all, 0, all.length);
                int ofHead = Codec.crc32c(all, 0, head);
                assertThat(Codec.crc32cOfTail(whole, ofHead, tail)).as("head %d tail %d", head, tail)
                        .isEqualTo(Codec.crc32c(all, head, tail));
            }
        }
    }

    @Test
    void aChangedByteInTheTailChangesTheDerivedCrc() {
        byte[] all = new byte[48 + 131_072];
        new Random(6).nextBytes(all);
        int ofHead = Codec.crc32c(all, 0, 48);
        int before = Codec.crc32cOfTail(Codec.crc32c(all, 0, all.length), ofHead, 131_072);
        all[48 + 70_000] ^= 1;
        int after = Codec.crc32cOfTail(Codec.crc32c(all, 0, all.length), ofHead, 131_072);
        assertThat(after).isNotEqualTo(before).isEqualTo(Codec.crc32c(all, 48, 131_072));
    }
}
