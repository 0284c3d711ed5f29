package io.ublk.server.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** ext4 for the tests that mount one: loads the module if the kernel has not yet. */
final class Ext4 {
    private Ext4() {}

    static void require() throws IOException {
        if (!Files.readString(Path.of("/proc/filesystems")).contains("\text4\n")) {
            KernelModules.load("ext4");
        }
    }
}
