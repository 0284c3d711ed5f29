package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** Kernel modules the guest did not load at boot (it boots with few), from the tree vm-run names. */
final class KernelModules {
    private KernelModules() {}

    /** Loads {@code module}; fails, saying what the test needs, if it cannot be loaded. */
    static void load(String module) {
        String tree = System.getenv("UBLK_VM_KERNEL_TREE");
        List<String> cmd = tree == null ? List.of("modprobe", module) : List.of("modprobe", "-d", tree, module);
        Cmd.Result r = Cmd.run(Duration.ofMinutes(3), Path.of("/"), cmd);
        assertThat(r.exit()).as("this test needs the kernel module %s: %s", module, r.describe()).isZero();
    }

    /** Loads {@code module} unless {@code present} exists already (a device node it makes, say). */
    static void require(String module, Path present) {
        if (!java.nio.file.Files.exists(present)) {
            load(module);
        }
    }
}
