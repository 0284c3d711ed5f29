package io.ublk.s3;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * The durable, private write steps of {@link LocalObjectStore}, and of the small files other
 * modules keep beside their data: a new file becomes visible only whole and only after its bytes
 * are on disk, and a rename or link is durable only once its folder is synced.
 *
 * <p>Files are created 0600 and folders 0700 in the creating call itself (the kernel applies the
 * umask, which can only take bits away), so block data is never readable by others, not even for
 * the moment before a chmod. Temp files are created with {@code O_CREAT|O_EXCL|O_NOFOLLOW} under a
 * random name: a file or symlink already there (a crash's leftover, or planted) is never opened.
 */
public final class LocalFiles {
    /** Temp files start with this; no key segment may, so a temp name never collides with a key. */
    static final String TEMP_PREFIX = ".tmp-";
    /** Owner read and write only: the mode of every file written here. */
    static final FileAttribute<Set<PosixFilePermission>> PRIVATE_FILE =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));
    /** Owner only: the mode of every folder created here. */
    static final FileAttribute<Set<PosixFilePermission>> PRIVATE_DIR =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));
    private static final Set<OpenOption> NEW_TEMP =
            Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);

    private LocalFiles() {}

    /**
     * Replaces {@code target} with {@code data}, atomically and privately: a reader sees the old
     * file or the new one, never a part; the new file is mode 0600 and on disk (its folder synced)
     * when this returns. A symlink at {@code target} is replaced, not written through. The folder
     * must exist (see {@link #createPrivateDirectories}). For small files (ids, ready files); a
     * crash may leave a {@code .tmp-*} file beside it, which no later call trips over.
     */
    public static void writeAtomically(Path target, byte[] data) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = writeTemp(dir, List.of(ByteBuffer.wrap(data)), t -> {});
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        syncDir(dir);
    }

    /**
     * Creates {@code dir} and any missing parents, each 0700 and each made durable (its parent
     * synced); folders that exist are left as they are, symlinks among them followed.
     */
    public static void createPrivateDirectories(Path dir) throws IOException {
        Path abs = dir.toAbsolutePath();
        if (Files.isDirectory(abs)) {
            return;
        }
        Path parent = abs.getParent();
        if (parent != null) {
            createPrivateDirectories(parent);
        }
        try {
            Files.createDirectory(abs, PRIVATE_DIR);
        } catch (FileAlreadyExistsException e) {
            if (!Files.isDirectory(abs)) {
                throw new FileAlreadyExistsException(abs.toString(), null, "exists and is not a folder");
            }
            return; // made by someone else meanwhile
        }
        if (parent != null) {
            syncDir(parent);
        }
    }

    /**
     * Writes the concatenation of {@code parts} (each from its position; none is moved) to a new
     * private temp file in {@code dir}, hands it to {@code tag} (extended attributes), fsyncs it.
     */
    static Path writeTemp(Path dir, List<ByteBuffer> parts, Consumer<Path> tag) throws IOException {
        Path tmp = dir.resolve(TEMP_PREFIX + UUID.randomUUID());
        boolean done = false;
        try (FileChannel ch = FileChannel.open(tmp, NEW_TEMP, PRIVATE_FILE)) {
            ByteBuffer[] bufs = parts.stream().map(ByteBuffer::duplicate).toArray(ByteBuffer[]::new);
            long left = 0;
            for (ByteBuffer b : bufs) {
                left += b.remaining();
            }
            while (left > 0) {
                left -= ch.write(bufs); // a gathering write: no copy into one array first
            }
            tag.accept(tmp);
            ch.force(true);
            done = true;
        } finally {
            if (!done) {
                Files.deleteIfExists(tmp);
            }
        }
        return tmp;
    }

    /**
     * Creates the folders from {@code root} (exclusive, a real path) down to {@code dir}, each
     * 0700, syncing each parent so the new entry survives a crash. A symlink among them is refused,
     * not followed: it would lead a key out of the root. (Checked, then used: a link swapped in
     * between needs write access to these 0700 folders, i.e. the owner.)
     */
    static void ensureDirBelow(Path root, Path dir) throws IOException {
        Path at = root;
        for (Path name : root.relativize(dir)) {
            if (name.toString().isEmpty()) {
                return; // dir is the root
            }
            at = at.resolve(name);
            ensureRealDir(at);
        }
    }

    private static void ensureRealDir(Path dir) throws IOException {
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(dir, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            try {
                Files.createDirectory(dir, PRIVATE_DIR);
                syncDir(dir.getParent());
                return;
            } catch (FileAlreadyExistsException raced) {
                attrs = Files.readAttributes(dir, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            }
        }
        if (attrs.isSymbolicLink()) {
            throw new IOException("a symlink, not a folder (not followed out of the store): " + dir);
        }
        if (!attrs.isDirectory()) {
            throw new IOException("not a directory (an object has this name): " + dir);
        }
    }

    /** Makes the folder's entries (renames, links, unlinks) durable. */
    public static void syncDir(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
