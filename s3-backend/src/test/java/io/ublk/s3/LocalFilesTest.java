package io.ublk.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The helpers other modules use for their small private files (volume id, ready file). */
class LocalFilesTest {
    @TempDir
    Path dir;

    private static String mode(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    private String[] names() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().toArray(String[]::new);
        }
    }

    @Test
    void writeAtomicallyMakesAPrivateFileAndLeavesNoTemp() throws IOException {
        Path id = dir.resolve("volume.id");
        LocalFiles.writeAtomically(id, ascii("one"));
        assertThat(Files.readAllBytes(id)).isEqualTo(ascii("one"));
        assertThat(mode(id)).isEqualTo("rw-------");
        assertThat(names()).containsExactly("volume.id");
    }

    @Test
    void writeAtomicallyReplacesAnOldFileAndItsLooseMode() throws IOException {
        Path ready = Files.write(dir.resolve("ready"), ascii("old, longer"));
        Files.setPosixFilePermissions(ready, PosixFilePermissions.fromString("rw-r--r--"));
        LocalFiles.writeAtomically(ready, ascii("new"));
        assertThat(Files.readAllBytes(ready)).isEqualTo(ascii("new"));
        assertThat(mode(ready)).isEqualTo("rw-------");
        assertThat(names()).containsExactly("ready");
    }

    @Test
    void writeAtomicallyReplacesASymlinkAndLeavesItsTargetAlone() throws IOException {
        Path elsewhere = Files.write(dir.resolve("elsewhere"), ascii("keep"));
        Path link = Files.createSymbolicLink(dir.resolve("link"), elsewhere);
        LocalFiles.writeAtomically(link, ascii("mine"));
        assertThat(Files.isSymbolicLink(link)).isFalse();
        assertThat(Files.readAllBytes(link)).isEqualTo(ascii("mine"));
        assertThat(Files.readAllBytes(elsewhere)).isEqualTo(ascii("keep"));
    }

    @Test
    void writeAtomicallyNeedsItsFolder() {
        assertThatThrownBy(() -> LocalFiles.writeAtomically(dir.resolve("missing/f"), ascii("x")))
                .isInstanceOf(NoSuchFileException.class);
    }

    @Test
    void createPrivateDirectoriesMakesOnlyTheMissingOnesOwnerOnly() throws IOException {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path deep = dir.resolve("a/b/c");
        LocalFiles.createPrivateDirectories(deep);
        for (Path p : new Path[] {dir.resolve("a"), dir.resolve("a/b"), deep}) {
            assertThat(mode(p)).as(p.toString()).isEqualTo("rwx------");
        }
        assertThat(mode(dir)).as("an existing folder is left as it is").isEqualTo("rwxr-xr-x");
        LocalFiles.createPrivateDirectories(deep); // again: nothing to do
        assertThat(Files.isDirectory(deep)).isTrue();
    }

    @Test
    void createPrivateDirectoriesRefusesAFileInTheWay() throws IOException {
        Path file = Files.write(dir.resolve("file"), ascii("x"));
        assertThatThrownBy(() -> LocalFiles.createPrivateDirectories(file))
                .isInstanceOf(FileAlreadyExistsException.class).hasMessageContaining("not a folder");
        assertThatThrownBy(() -> LocalFiles.createPrivateDirectories(file.resolve("below")))
                .isInstanceOf(IOException.class);
    }
}
