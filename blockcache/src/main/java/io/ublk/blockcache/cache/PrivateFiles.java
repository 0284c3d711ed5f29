package io.ublk.blockcache.cache;

import io.ublk.blockcache.cache.journal.Journal;
import io.ublk.s3.LocalFiles;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * Files of the cache folder: folders 0700 and files 0600 from the moment they exist (set at
 * creation, so the umask never exposes block data or ids), temporary files created exclusively,
 * never through a symlink.
 */
final class PrivateFiles {
    private static final FileAttribute<Set<PosixFilePermission>> DIR_MODE =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));
    private static final FileAttribute<Set<PosixFilePermission>> FILE_MODE =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));

    private PrivateFiles() {}

    /** Creates the folder and any missing parents, each new one 0700. */
    static void createDirectories(Path dir) throws IOException {
        LocalFiles.createPrivateDirectories(dir);
    }

    /** Opens (creating 0600 if missing) the folder's lock file, never through a symlink. */
    static FileChannel openLock(Path file) throws IOException {
        return FileChannel.open(file, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS),
                FILE_MODE);
    }

    /** Replaces {@code target} with {@code data} atomically and durably (temp file, fsync, rename, folder fsync). */
    static void writeAtomically(Path target, byte[] data) throws IOException {
        LocalFiles.writeAtomically(target, data);
    }

    static void forceFolder(Path dir) throws IOException {
        Journal.forceDir(dir);
    }
}
