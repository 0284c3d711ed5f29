package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.server.RealUblk;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What the vm-run guest promises its commands (VM tier, on either guest kernel): {@code /dev/fd}
 * and friends, so bash's process substitution works; a plain {@code modprobe} of the guest
 * kernel's own modules; {@code ublk_drv} with {@code ublks_max=8192}.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class GuestVmIT {
    private static final Duration CMD = Duration.ofMinutes(2);

    @BeforeAll
    static void needsUblk() {
        RealUblk.require();
    }

    @Test
    void processSubstitutionAndStandardStreams() {
        // /dev/std* are written through a pipe: reopening a regular file (Cmd's output) would truncate it.
        Cmd.Result r = Cmd.run(CMD, Path.of("/"), "bash", "-c",
                "cat <(echo one) && diff <(printf 'a\\n') <(printf 'a\\n')"
                        + " && { echo two >/dev/stdout; echo three >/dev/stderr; cat /dev/stdin; } 2>&1 <<<four | cat"
                        + " && readlink /dev/fd /dev/stdin").ok();
        assertThat(r.out()).isEqualTo("one\ntwo\nthree\nfour\n/proc/self/fd\n/proc/self/fd/0\n");
        assertThat(r.err()).isEmpty();
    }

    @Test
    void modprobeFindsTheGuestKernelsModules() throws Exception {
        String release = Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip();
        assertThat(Path.of("/lib/modules", release, "modules.dep")).isRegularFile();
        String tree = System.getenv("UBLK_VM_KERNEL_TREE");
        if (tree != null) {
            assertThat(Files.isSameFile(Path.of("/lib/modules", release, "modules.dep"),
                    Path.of(tree, "lib", "modules", release, "modules.dep"))).as("/lib/modules/%s is %s", release, tree).isTrue();
        }
        KernelModules.load("xfs");
        assertThat(Files.readString(Path.of("/proc/filesystems"))).containsPattern("(?m)\\txfs$");
    }

    @Test
    void ublkDriverAllowsThousandsOfDevices() throws Exception {
        assertThat(Files.readString(Path.of("/sys/module/ublk_drv/parameters/ublks_max")).strip()).isEqualTo("8192");
    }
}
