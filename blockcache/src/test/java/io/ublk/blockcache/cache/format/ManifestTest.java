package io.ublk.blockcache.cache.format;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ManifestTest {
    final UUID volume = UUID.randomUUID();
    final UUID writer = UUID.randomUUID();

    @Test
    void roundTripsWithItsCommitId() {
        Manifest m = new Manifest(volume, writer, 7, 12, 5, List.of("v/seg/a", "v/seg/b"), 0x1234_5678_9abcL);
        Manifest back = Manifest.decode("m", m.encode());
        assertThat(back).isEqualTo(m);
        assertThat(back.isCommit(writer, 0x1234_5678_9abcL)).isTrue();
        assertThat(back.isCommit(writer, 1)).isFalse();
        assertThat(back.isCommit(UUID.randomUUID(), 0x1234_5678_9abcL)).isFalse();
    }

    @Test
    void aManifestWithoutCommitIdIsNobodysRetry() {
        Manifest claim = Manifest.decode("m", new Manifest(volume, writer, 3, 1, 0, List.of()).encode());
        assertThat(claim.commit()).isEqualTo(Manifest.NO_COMMIT);
        assertThat(claim.isCommit(writer, Manifest.NO_COMMIT)).isFalse();
    }

    @Test
    void decodesVersionOne() {
        // version 1: no commit field between the writer and the generation
        ByteBuffer b = Codec.writer(8 + 16 + 16 + 8 + 8 + 8 + 4 + Codec.stringBytes("v/seg/a") + 4);
        b.putLong(Manifest.MAGIC_V1).putLong(volume.getMostSignificantBits()).putLong(volume.getLeastSignificantBits())
                .putLong(writer.getMostSignificantBits()).putLong(writer.getLeastSignificantBits())
                .putLong(9).putLong(4).putLong(8).putInt(1);
        Codec.putString(b, "v/seg/a");
        Manifest m = Manifest.decode("m", Codec.seal(b));
        assertThat(m).isEqualTo(new Manifest(volume, writer, 9, 4, 8, List.of("v/seg/a"), Manifest.NO_COMMIT));
    }
}
