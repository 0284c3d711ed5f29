package io.ublk.server.ctrl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ublk.headers.Errno;
import io.ublk.headers.UblkDevState;
import io.ublk.headers.UblkFeatures;
import io.ublk.headers.UblkParamBasic;
import io.ublk.headers.UblkParamType;
import io.ublk.headers.UblkParams;
import io.ublk.server.RealUblk;
import io.ublk.server.device.DeviceConfig;
import io.ublk.server.device.DeviceParams;
import io.ublk.server.sys.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The control plane against the real ublk driver (VM tier): GET_FEATURES, ADD_DEV with USER_COPY,
 * SET_PARAMS, GET_PARAMS, GET_DEV_INFO, DEL_DEV through the Java ring's SQE128 URING_CMDs.
 */
class ControlRoundTripVmIT {
    private static final long GIB_SECTORS = (1L << 30) >> 9;
    private static final long WANTED_FLAGS =
            UblkFeatures.USER_COPY | UblkFeatures.USER_RECOVERY | UblkFeatures.USER_RECOVERY_REISSUE;

    @BeforeAll
    static void needsUblk() {
        RealUblk.require();
    }

    /** The server's own params for a 1 GiB device, with the logical block shift overridden. */
    private static MemorySegment params(Arena arena, int logicalShift) {
        MemorySegment p = DeviceParams.of(new DeviceConfig(1L << 30, 1, 64, 128 * 1024), arena);
        MemorySegment basic = p.asSlice(UblkParams.BASIC_OFFSET, UblkParamBasic.SIZE);
        UblkParamBasic.LOGICAL_BS_SHIFT.set(basic, (byte) logicalShift);
        return p;
    }

    @Test
    void fullControlRoundTrip() {
        try (UblkControl control = UblkControl.open(Duration.ofSeconds(30)); Arena arena = Arena.ofConfined()) {
            long features = control.features();
            assertThat(FeatureNames.names(features)).contains("USER_COPY", "USER_RECOVERY", "USER_RECOVERY_REISSUE",
                    "CMD_IOCTL_ENCODE");

            DeviceInfo added = control.addDevice(DeviceInfo.request(DeviceInfo.ANY_ID, 1, 64, 128 * 1024, WANTED_FLAGS));
            int id = added.devId();
            try {
                assertThat(id).isBetween(0, (1 << 20) - 1);
                assertThat(added.flags() & WANTED_FLAGS).isEqualTo(WANTED_FLAGS);
                assertThat(added.nrHwQueues()).isEqualTo(1);
                assertThat(added.queueDepth()).isEqualTo(64);
                assertThat(Path.of("/dev/ublkc" + id)).exists();
                assertThat(Path.of("/dev/ublkb" + id)).doesNotExist();

                control.setParams(id, params(arena, 9));

                MemorySegment got = arena.allocate(UblkParams.LAYOUT);
                UblkParams.LEN.set(got, (int) UblkParams.SIZE);
                control.params(id, got);
                assertThat((int) UblkParams.TYPES.get(got) & UblkParamType.BASIC).isNotZero();
                MemorySegment basic = got.asSlice(UblkParams.BASIC_OFFSET, UblkParamBasic.SIZE);
                assertThat((long) UblkParamBasic.DEV_SECTORS.get(basic)).isEqualTo(GIB_SECTORS);
                assertThat((int) UblkParamBasic.MAX_SECTORS.get(basic)).isEqualTo(256);
                assertThat((byte) UblkParamBasic.LOGICAL_BS_SHIFT.get(basic)).isEqualTo((byte) 9);
                assertThat((int) UblkParamBasic.ATTRS.get(basic) & UblkParamType.ATTR_FUA).isNotZero();

                // The kernel refuses bad params, and drops the device's params (types = 0) while doing so:
                // the server must validate before sending. Good params can then be set again. (GET_PARAMS
                // always reports DEVT, so only BASIC tells whether params are set.)
                assertThatThrownBy(() -> control.setParams(id, params(arena, 8)))
                        .isInstanceOf(NativeException.class)
                        .hasMessageContaining("SET_PARAMS failed: EINVAL");
                control.params(id, got);
                assertThat((int) UblkParams.TYPES.get(got) & UblkParamType.BASIC).isZero();
                control.setParams(id, params(arena, 9));
                UblkParams.LEN.set(got, (int) UblkParams.SIZE);
                control.params(id, got);
                assertThat((int) UblkParams.TYPES.get(got) & UblkParamType.BASIC).isNotZero();
                assertThat((byte) UblkParamBasic.LOGICAL_BS_SHIFT.get(basic)).isEqualTo((byte) 9);

                DeviceInfo info = control.deviceInfo(id);
                assertThat(info.devId()).isEqualTo(id);
                assertThat(info.state()).isEqualTo(UblkDevState.DEAD);
                assertThat(info.flags()).isEqualTo(added.flags());
                assertThat(info.maxIoBufBytes()).isEqualTo(128 * 1024);
            } finally {
                control.deleteDevice(id);
            }
            assertThat(Files.exists(Path.of("/dev/ublkc" + id))).isFalse();
            assertThatThrownBy(() -> control.deviceInfo(id))
                    .isInstanceOfSatisfying(NativeException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENODEV));
        }
    }

    /**
     * {@code features} names every bit the kernel reports (never {@code bit N}); on the 7.2 guest
     * kernel ({@code scripts/vm-run --kernel 7.2}, which exports {@code UBLK_VM_KERNEL=7.2}) that is
     * all 20 bits of its uapi header.
     */
    @Test
    void featuresCommandNamesEveryBit() throws Exception {
        Path root = Path.of(System.getProperty("ublk.root"));
        Process p = new ProcessBuilder(root.resolve("bin/ublk-server").toString(), "features")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(out).isZero();
        assertThat(out).contains("ublk features: 0x").containsPattern("(?m)^  USER_COPY$")
                .doesNotContainPattern("(?m)^  bit [0-9]+$");
        if ("7.2".equals(System.getenv("UBLK_VM_KERNEL"))) {
            assertThat(out).as("GET_FEATURES of the 7.2 kernel").contains("ublk features: 0xfffff\n")
                    .containsPattern("(?m)^  USER_RECOVERY_FAIL_IO$").containsPattern("(?m)^  PER_IO_DAEMON$")
                    .containsPattern("(?m)^  SHMEM_ZC$");
            assertThat(out.lines().filter(l -> l.startsWith("  ")).count()).as(out).isEqualTo(20);
        }
    }
}
