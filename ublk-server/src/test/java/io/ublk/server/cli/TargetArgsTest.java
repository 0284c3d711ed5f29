package io.ublk.server.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ublk.server.daemon.DeviceSpec;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TargetArgsTest {
    @TempDir
    Path dir;

    @Test
    void pathsBecomeAbsoluteAndOneTimeChoicesStayOutOfTheRecord() {
        DeviceSpec s = TargetArgs.parse(List.of("--target", "cache", "--volume", "v1", "--cache-dir", "c",
                "--store-dir", "s", "--size", "64MiB", "--takeover", "--queues", "2"), dir);
        assertThat(s.target()).isEqualTo("cache");
        assertThat(s.name()).isEqualTo("v1");
        assertThat(s.sizeBytes()).isEqualTo(64L << 20);
        assertThat(s.queues()).isEqualTo(2);
        assertThat(s.args()).contains(dir.resolve("c").toString(), dir.resolve("s").toString(), "--takeover");
        assertThat(s.recordArgs()).contains(dir.resolve("c").toString()).doesNotContain("--takeover");
        assertThat(s.identity()).isEqualTo("cache " + dir.resolve("c") + " v1");
        // the record parses again to the same device, from any folder
        DeviceSpec again = TargetArgs.parse(s.recordArgs(), Path.of("/"));
        assertThat(again.identity()).isEqualTo(s.identity());
        assertThat(again.recordArgs()).isEqualTo(s.recordArgs());
    }

    @Test
    void memoryDevicesAreNamedOnlyIfAsked() {
        assertThat(TargetArgs.parse(List.of("--size", "1MiB"), dir).identity()).isNull();
        assertThat(TargetArgs.parse(List.of("--size", "1MiB", "--name", "scratch"), dir).identity())
                .isEqualTo("name scratch");
    }

    @Test
    void badOptionsAreRefusedWithTheRule() {
        assertThatThrownBy(() -> TargetArgs.parse(List.of("--target", "memory"), dir))
                .hasMessageContaining("--size is required");
        assertThatThrownBy(() -> TargetArgs.parse(List.of("--size", "1MiB", "--volume", "v"), dir))
                .hasMessageContaining("apply to --target cache only");
        assertThatThrownBy(() -> TargetArgs.parse(List.of("--size", "1MiB", "--frob"), dir))
                .hasMessageContaining("--frob");
        assertThatThrownBy(() -> TargetArgs.parse(List.of("--size", "1MiB", "--name", "a b"), dir))
                .hasMessageContaining("--name must be");
        assertThatThrownBy(() -> TargetArgs.parse(List.of("--size", "1000"), dir))
                .hasMessageContaining("multiple of 4096");
        assertThatThrownBy(() -> TargetArgs.parse(List.of("--size", "1MiB", "--queues", "0"), dir))
                .hasMessageContaining("queues");
    }
}
