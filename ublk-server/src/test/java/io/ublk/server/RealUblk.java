package io.ublk.server;

import static org.junit.jupiter.api.Assertions.fail;

import io.ublk.server.ctrl.UblkControl;
import java.nio.file.Files;

/** Guards for tests that need the kernel's ublk driver (the VM tier). They fail, never skip. */
public final class RealUblk {
    private RealUblk() {}

    /** Fails the test with the reason when this kernel has no ublk. */
    public static void require() {
        if (!Files.exists(UblkControl.CONTROL_PATH)) {
            fail("this test needs real ublk but " + UblkControl.CONTROL_PATH + " does not exist: run it in the VM "
                    + "(scripts/test runs the VM tier through scripts/vm-run; scripts/test --host-only skips the tier)");
        }
    }
}
