package io.ublk.server.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DaemonConfigTest {
    @TempDir
    Path dir;

    private DaemonConfig read(String toml) throws Exception {
        Path f = dir.resolve("daemon.toml");
        Files.writeString(f, toml);
        return DaemonConfig.read(f);
    }

    @Test
    void defaultsFillWhatADeviceDoesNotSet() throws Exception {
        DaemonConfig c = read("""
                [defaults]
                store = "local"
                store-dir = "/srv/store"
                clean-cache = "64MiB"

                [[device]]
                target = "cache"
                volume = "db1"
                size = "1GiB"
                clean-cache = "8MiB"

                [[device]]
                target = "memory"
                name = "scratch"
                size = 1048576
                takeover = false
                """);
        assertThat(c.devices()).hasSize(2);
        assertThat(c.withDefaults(c.devices().get(0))).containsExactly("--target", "cache", "--volume", "db1",
                "--size", "1GiB", "--clean-cache", "8MiB", "--store", "local", "--store-dir", "/srv/store");
        assertThat(c.devices().get(1)).containsExactly("--target", "memory", "--name", "scratch", "--size", "1048576");
        assertThat(c.withDefaults(List.of("--size", "4096", "--store", "s3"))).containsExactly("--size", "4096",
                "--store", "s3", "--store-dir", "/srv/store", "--clean-cache", "64MiB");
    }

    @Test
    void aFileThatDoesNotCheckOutSaysWhere() {
        assertThatThrownBy(() -> read("[defaults\nstore = 1")).hasMessageContaining("daemon.toml");
        assertThatThrownBy(() -> read("[volumes]\nx = 1")).hasMessageContaining("unknown table or key 'volumes'");
        assertThatThrownBy(() -> read("[[device]]\nsize = [1, 2]")).hasMessageContaining("#1 size must be");
        assertThatThrownBy(() -> DaemonConfig.read(dir.resolve("missing.toml"))).hasMessageContaining("missing.toml");
    }
}
