package io.ublk.s3;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.UUID;

/**
 * The durable-write steps of {@link LocalObjectStore}: a new file becomes visible only whole and
 * only after its bytes are on disk, and a rename or link is durable only once its folder is synced.
 */
final class LocalFiles {
    /** Temp files start with this; no key segment may, so a temp name never collides with a key. */
    static final String TEMP_PREFIX = ".tmp-";

    private LocalFiles() {}

    /**
     * Writes the concatenation of {@code parts} (each from its position; none is moved) to a new
     * temp file in {@code dir}, tags it with its etag, fsyncs it.
     */
    static Path writeTemp(Path dir, java.util.List<ByteBuffer> parts, String etag, LocalEtags etags) throws IOException {
        Path tmp = dir.resolve(TEMP_PREFIX + UUID.randomUUID());
        boolean done = false;
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer[] bufs = parts.stream().map(ByteBuffer::duplicate).toArray(ByteBuffer[]::new);
            long left = 0;
            for (ByteBuffer b : bufs) {
                left += b.remaining();
            }
            while (left > 0) {
                left -= ch.write(bufs); // a gathering write: no copy into one array first
            }
            etags.tag(tmp, etag);
            ch.force(true);
            done = true;
        } finally {
            if (!done) {
                Files.deleteIfExists(tmp);
            }
        }
        return tmp;
    }

    /** Creates {@code dir} and any missing parents, syncing each parent so the new entry survives a crash. */
    static void ensureDir(Path dir) throws IOException {
        if (Files.isDirectory(dir)) {
            return;
        }
        Path parent = dir.getParent();
        ensureDir(parent);
        try {
            Files.createDirectory(dir);
        } catch (FileAlreadyExistsException e) {
            if (!Files.isDirectory(dir)) {
                throw new IOException("not a directory (an object has this name): " + dir, e);
            }
            return;
        }
        syncDir(parent);
    }

    /** Makes the folder's entries (renames, links, unlinks) durable. */
    static void syncDir(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
