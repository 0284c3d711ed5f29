package io.ublk.server.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ublk.server.admin.Protocol;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StateDirTest {
    @TempDir
    Path dir;

    @Test
    void recordsSurviveAReopenAndAreWrittenPrivately() throws Exception {
        DeviceRecord a = new DeviceRecord(DeviceRecord.VERSION, 3, List.of("--target", "memory", "--size", "1GiB"),
                DeviceState.LIVE, 1234, DeviceRecord.ADMIN);
        DeviceRecord b = new DeviceRecord(DeviceRecord.VERSION, 1, List.of("--target", "null", "--size", "4096"),
                DeviceState.DELETING, 99, DeviceRecord.CONFIG);
        try (StateDir s = StateDir.open(dir.resolve("state"), Protocol.json())) {
            s.save(a);
            s.save(b);
            s.save(b.withState(DeviceState.LIVE)); // replaced whole
        }
        Path file = dir.resolve("state/devices/3.json");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("state"))))
                .isEqualTo("rwx------");
        try (StateDir s = StateDir.open(dir.resolve("state"), Protocol.json())) {
            assertThat(s.load()).containsExactly(b.withState(DeviceState.LIVE), a);
            s.delete(3);
            s.delete(42); // none: fine
            assertThat(s.load()).containsExactly(b.withState(DeviceState.LIVE));
        }
        try (var files = Files.list(dir.resolve("state/devices"))) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("1.json"); // no temp left
        }
    }

    @Test
    void aSecondDaemonOnTheFolderIsRefused() throws Exception {
        try (StateDir s = StateDir.open(dir, Protocol.json())) {
            // a lock held by this JVM: a second FileChannel lock of the same file throws here, as
            // another process's tryLock returns null; both must refuse with the reason
            assertThatThrownBy(() -> StateDir.open(dir, Protocol.json()))
                    .hasMessageContaining("state folder");
        }
        StateDir.open(dir, Protocol.json()).close(); // free again
    }

    @Test
    void anUnreadableRecordIsSetAsideNotServedAndTheRestLoad() throws Exception {
        try (StateDir s = StateDir.open(dir, Protocol.json())) {
            s.save(new DeviceRecord(DeviceRecord.VERSION, 0, List.of("--size", "4096"), DeviceState.LIVE, 1, DeviceRecord.ADMIN));
            Files.writeString(dir.resolve("devices/7.json"), "{\"version\":1,\"id\":7,"); // torn by hand
            Files.writeString(dir.resolve("devices/8.json"),
                    "{\"version\":1,\"id\":9,\"args\":[],\"state\":\"LIVE\",\"createdMillis\":0}"); // wrong file
            assertThat(s.load()).extracting(DeviceRecord::id).containsExactly(0);
            assertThat(dir.resolve("devices/7.json.bad")).exists();
            assertThat(dir.resolve("devices/8.json.bad")).exists();
            assertThat(s.load()).extracting(DeviceRecord::id).containsExactly(0);
        }
    }
}
