package io.ublk.server.ctrl;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.headers.UblkFeatures;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link FeatureNames} reads the probe-checked {@link UblkFeatures} constants, 6.12's and the later ones. */
class FeatureNamesTest {
    /** Bits 0-19, lowest first: the GET_FEATURES answer of a 7.2 kernel has all of them. */
    private static final List<String> ALL_20 = List.of("SUPPORT_ZERO_COPY", "URING_CMD_COMP_IN_TASK", "NEED_GET_DATA",
            "USER_RECOVERY", "USER_RECOVERY_REISSUE", "UNPRIVILEGED_DEV", "CMD_IOCTL_ENCODE", "USER_COPY", "ZONED",
            "USER_RECOVERY_FAIL_IO", "UPDATE_SIZE", "AUTO_BUF_REG", "QUIESCE", "PER_IO_DAEMON", "BUF_REG_OFF_DAEMON",
            "BATCH_IO", "INTEGRITY", "SAFE_STOP_DEV", "NO_AUTO_PART_SCAN", "SHMEM_ZC");

    @Test
    void namesEveryBitUpTo19() {
        for (int bit = 0; bit < ALL_20.size(); bit++) {
            assertThat(FeatureNames.name(bit)).as("bit %d", bit).isEqualTo(ALL_20.get(bit));
        }
        assertThat(FeatureNames.names((1L << 20) - 1)).containsExactlyElementsOf(ALL_20);
    }

    @Test
    void laterBitsByConstant() {
        assertThat(FeatureNames.names(UblkFeatures.USER_RECOVERY_FAIL_IO)).containsExactly("USER_RECOVERY_FAIL_IO");
        assertThat(FeatureNames.names(UblkFeatures.PER_IO_DAEMON | UblkFeatures.QUIESCE))
                .containsExactly("QUIESCE", "PER_IO_DAEMON");
        assertThat(FeatureNames.names(UblkFeatures.SHMEM_ZC | UblkFeatures.USER_COPY))
                .containsExactly("USER_COPY", "SHMEM_ZC");
    }

    @Test
    void unknownBitsStayNumbered() {
        assertThat(FeatureNames.name(20)).isEqualTo("bit 20");
        assertThat(FeatureNames.name(63)).isEqualTo("bit 63");
        assertThat(FeatureNames.names(1L << 20 | UblkFeatures.ZONED | 1L << 63)).containsExactly("ZONED", "bit 20", "bit 63");
        assertThat(FeatureNames.names(0)).isEmpty();
    }

    @Test
    void missingNamesWhatTheKernelLacks() {
        long six12 = (1L << 9) - 1;
        long wanted = UblkFeatures.USER_COPY | UblkFeatures.USER_RECOVERY | UblkFeatures.PER_IO_DAEMON;
        assertThat(FeatureNames.missing(six12, wanted)).containsExactly("PER_IO_DAEMON");
        assertThat(FeatureNames.missing((1L << 20) - 1, wanted)).isEmpty();
    }
}
