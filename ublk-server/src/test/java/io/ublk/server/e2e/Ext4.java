package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** ext4 for the tests that mount one: loads the module if the kernel has not yet. */
final class Ext4 {
    private Ext4() {}

    static void require() throws IOException {
        if (!Files.readString(Path.of("/proc/filesystems")).contains("\text4\n")) {
            // The guest boots with few modules; vm-run names the kernel's module tree.
            String tree = System.getenv("UBLK_VM_KERNEL_TREE");
            List<String> cmd = tree == null ? List.of("modprobe", "ext4") : List.of("modprobe", "-d", tree, "ext4");
            Cmd.Result r = Cmd.run(Duration.ofMinutes(3), Path.of("/"), cmd);
            assertThat(r.exit()).as("this test needs ext4: %s", r.describe()).isZero();
        }
    }
}
