package io.ublk.s3;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.Objects;

/**
 * Etags of the files of a {@link LocalObjectStore}: the MD5 of the content, remembered in a
 * {@code user.ublk.etag} extended attribute written before the file is renamed into place, so a
 * listing need not read every object. Without xattr support (some tmpfs), listing hashes content.
 */
final class LocalEtags {
    private static final String ATTR = "ublk.etag";

    /** Cleared on the first failure to write the attribute: the file system does not have them. */
    private volatile boolean xattrs = true;

    /** Stores the etag on a file not yet visible under its key; a no-op without xattr support. */
    void tag(Path file, String etag) {
        if (!xattrs) {
            return;
        }
        try {
            UserDefinedFileAttributeView view = Files.getFileAttributeView(file, UserDefinedFileAttributeView.class);
            if (view == null) {
                xattrs = false;
                return;
            }
            view.write(ATTR, StandardCharsets.US_ASCII.encode(etag));
        } catch (IOException | UnsupportedOperationException e) {
            xattrs = false;
        }
    }

    /**
     * The etag of the file as listed: the remembered one if the file was not replaced while it
     * was read (same inode before and after; the attribute is never changed once the file is
     * visible), else the hash of its content. {@code null} if the file vanished.
     */
    String of(Path file) throws IOException {
        try {
            Object before = Files.readAttributes(file, BasicFileAttributes.class).fileKey();
            String remembered = xattrs ? read(file) : null;
            if (remembered != null && before != null
                    && Objects.equals(before, Files.readAttributes(file, BasicFileAttributes.class).fileKey())) {
                return remembered;
            }
            return Etags.md5Hex(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    private static String read(Path file) throws IOException {
        UserDefinedFileAttributeView view = Files.getFileAttributeView(file, UserDefinedFileAttributeView.class);
        if (view == null) {
            return null;
        }
        try {
            ByteBuffer buf = ByteBuffer.allocate(view.size(ATTR));
            view.read(ATTR, buf);
            return StandardCharsets.US_ASCII.decode(buf.flip()).toString();
        } catch (NoSuchFileException e) {
            throw e;
        } catch (FileSystemException | UnsupportedOperationException e) {
            return null; // no such attribute: a file this store did not write; hash it
        }
    }
}
