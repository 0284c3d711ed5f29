package io.ublk.server.daemon;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.ublk.s3.LocalFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's state folder: one record per device it serves ({@code devices/N.json}), each
 * written whole (temp file, fsync, rename, folder fsync), so after any crash every record is
 * either the old one or the new one. The folder is locked for the daemon's life: a second daemon
 * on the same folder is refused instead of fighting over the devices.
 */
public final class StateDir implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(StateDir.class);
    private static final String SUFFIX = ".json";

    private final Path root;
    private final Path devices;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final ObjectMapper json;

    private StateDir(Path root, FileChannel lockChannel, FileLock lock, ObjectMapper json) {
        this.root = root;
        this.devices = root.resolve("devices");
        this.lockChannel = lockChannel;
        this.lock = lock;
        this.json = json;
    }

    /**
     * Opens (creating, 0700) the folder and locks it.
     *
     * @throws IllegalStateException another process holds the folder
     */
    public static StateDir open(Path root, ObjectMapper json) throws IOException {
        Path abs = root.toAbsolutePath().normalize();
        LocalFiles.createPrivateDirectories(abs.resolve("devices"));
        Path lockFile = abs.resolve("daemon.lock");
        FileChannel ch = FileChannel.open(lockFile, java.util.Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (java.nio.channels.OverlappingFileLockException e) {
            lock = null; // this process holds it already
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        if (lock == null) {
            ch.close();
            throw new IllegalStateException("another daemon uses the state folder " + abs + " (it holds " + lockFile
                    + "); stop it first");
        }
        return new StateDir(abs, ch, lock, json);
    }

    public Path root() {
        return root;
    }

    /**
     * Every device record, by id. A file that does not parse is renamed {@code N.json.bad} and
     * logged: the daemon serves the rest and the operator sees what it could not read.
     */
    public List<DeviceRecord> load() throws IOException {
        List<DeviceRecord> out = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(devices, "*" + SUFFIX)) {
            for (Path f : files) {
                try {
                    DeviceRecord r = json.readValue(Files.readAllBytes(f), DeviceRecord.class);
                    if (r.version() != DeviceRecord.VERSION || !f.getFileName().toString().equals(r.id() + SUFFIX)) {
                        throw new IOException("record version " + r.version() + " or id " + r.id()
                                + " does not match its file");
                    }
                    out.add(r);
                } catch (IOException e) {
                    Path bad = f.resolveSibling(f.getFileName() + ".bad");
                    LOG.error("state record {} is unreadable ({}); moved to {} and not served", f, e.getMessage(), bad);
                    Files.move(f, bad, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        out.sort(Comparator.comparingInt(DeviceRecord::id));
        return out;
    }

    /** Writes (or replaces) a device's record durably. */
    public void save(DeviceRecord r) {
        try {
            LocalFiles.writeAtomically(file(r.id()), json.writeValueAsString(r).getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the state record of ublk" + r.id() + " in " + devices, e);
        }
    }

    /** Removes a device's record durably; no record is fine. */
    public void delete(int id) {
        try {
            if (Files.deleteIfExists(file(id))) {
                LocalFiles.syncDir(devices);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove the state record of ublk" + id + " in " + devices, e);
        }
    }

    private Path file(int id) {
        return devices.resolve(id + SUFFIX);
    }

    @Override
    public void close() throws IOException {
        try {
            lock.release();
        } finally {
            lockChannel.close();
        }
    }
}
