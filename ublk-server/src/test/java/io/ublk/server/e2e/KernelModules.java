package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Kernel modules the guest did not load at boot (it boots with few). The vm-run guest's
 * {@code /lib/modules/$(uname -r)} is its own kernel's tree, so a plain {@code modprobe} finds them.
 */
final class KernelModules {
    private KernelModules() {}

    /** Loads {@code module}; fails, saying what the test needs, if it cannot be loaded. */
    static void load(String module) {
        Cmd.Result r = Cmd.run(Duration.ofMinutes(3), Path.of("/"), List.of("modprobe", module));
        assertThat(r.exit()).as("this test needs the kernel module %s (%s): %s", module, modulesDir(), r.describe()).isZero();
    }

    /** Loads {@code module} unless {@code present} exists already (a device node it makes, say). */
    static void require(String module, Path present) {
        if (!Files.exists(present)) {
            load(module);
        }
    }

    /** Where modprobe looks, and whether it has a module index there. */
    private static String modulesDir() {
        String release;
        try {
            release = Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip();
        } catch (java.io.IOException e) {
            return "kernel release unknown: " + e.getMessage();
        }
        Path dir = Path.of("/lib/modules", release);
        return dir + (Files.isRegularFile(dir.resolve("modules.dep")) ? "" : " has no modules.dep");
    }
}
