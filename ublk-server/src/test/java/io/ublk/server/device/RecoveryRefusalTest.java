package io.ublk.server.device;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.headers.UblkDevState;
import io.ublk.headers.UblkFeatures;
import io.ublk.server.ctrl.DeviceInfo;
import org.junit.jupiter.api.Test;

/** What {@link UblkDevice#recover} refuses before it asks anything of the kernel. */
class RecoveryRefusalTest {
    private static final long MIB = 1 << 20;
    private static final int SLOT = 128 * 1024;
    private static final DeviceConfig CONFIG = new DeviceConfig(64 * MIB, 2, 32, SLOT);

    private static DeviceInfo kernel(int state, int queues, int depth, int maxIo, long flags) {
        return new DeviceInfo(queues, depth, state, maxIo, 5, 1234, flags, 0, 0, 0);
    }

    @Test
    void aQuiescedDeviceOfTheSameShapeIsRecoverable() {
        DeviceInfo info = kernel(UblkDevState.QUIESCED, 2, 32, SLOT, UblkDevice.DEVICE_FLAGS);
        assertThat(UblkDevice.refusal(info, 64 * MIB, CONFIG)).isNull();
        // a server that just died: the kernel still says LIVE until its quiesce work has run
        assertThat(UblkDevice.refusal(kernel(UblkDevState.LIVE, 2, 32, SLOT, UblkDevice.DEVICE_FLAGS), 64 * MIB,
                CONFIG)).isNull();
    }

    @Test
    void everyMismatchIsNamedInOneLine() {
        DeviceInfo info = kernel(UblkDevState.QUIESCED, 4, 64, 64 * 1024, UblkDevice.DEVICE_FLAGS);
        String why = UblkDevice.refusal(info, 32 * MIB, CONFIG);
        assertThat(why).isEqualTo("the device does not match the configuration: queues 4 (configured 2), depth 64"
                + " (configured 32), max I/O 65536 bytes (configured slot size 131072), size 33554432 bytes"
                + " (configured 67108864)");
        assertThat(why).doesNotContain("\n");
    }

    @Test
    void aDeadDeviceOrOneWithoutRecoveryIsRefused() {
        assertThat(UblkDevice.refusal(kernel(UblkDevState.DEAD, 2, 32, SLOT, UblkDevice.DEVICE_FLAGS), 64 * MIB,
                CONFIG)).startsWith("it is DEAD");
        assertThat(UblkDevice.refusal(kernel(UblkDevState.QUIESCED, 2, 32, SLOT, UblkFeatures.USER_COPY), 64 * MIB,
                CONFIG)).startsWith("it was created without USER_RECOVERY");
    }
}
