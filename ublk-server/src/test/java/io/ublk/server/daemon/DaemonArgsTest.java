package io.ublk.server.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class DaemonArgsTest {
    @Test
    void countedDevicesNumberTheirVolumeOrName() {
        assertThat(Daemon.numbered(List.of("--target", "cache", "--volume", "v", "--size", "1GiB"), 3))
                .containsExactly("--target", "cache", "--volume", "v-3", "--size", "1GiB");
        assertThat(Daemon.numbered(List.of("--name", "m", "--size", "4096"), 0)).containsExactly("--name", "m-0",
                "--size", "4096");
        assertThat(Daemon.numbered(List.of("--size", "4096"), 5)).containsExactly("--size", "4096");
    }
}
