package io.ublk.server.daemon;

import io.ublk.headers.Libc;
import io.ublk.headers.OpenFlags;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Who holds a block device, so that {@code device del} can refuse to pull a disk from under a
 * filesystem or a process. Three looks, each cheap: an exclusive open (fails while it is mounted,
 * or claimed by swap, md, dm or a loop device, in any mount namespace), the kernel's holders list,
 * and the open file descriptors of every process (as fuser does).
 */
public final class Holders {
    private static final int EBUSY = 16;

    private Holders() {}

    /** Why the device is in use, one reason per holder; empty when nothing holds it. */
    public static List<String> of(Path blockDevice) {
        List<String> why = new ArrayList<>();
        int fd = Libc.open(blockDevice.toString(), OpenFlags.O_RDONLY | OpenFlags.O_EXCL | OpenFlags.O_CLOEXEC
                | OpenFlags.O_NONBLOCK, 0);
        if (fd >= 0) {
            Libc.close(fd);
        } else if (-fd == EBUSY) {
            why.add("mounted or claimed (an exclusive open fails with EBUSY)");
        }
        Path holders = Path.of("/sys/block", blockDevice.getFileName().toString(), "holders");
        try (DirectoryStream<Path> s = Files.newDirectoryStream(holders)) {
            for (Path h : s) {
                why.add("held by " + h.getFileName());
            }
        } catch (IOException e) {
            // no sysfs entry: the device is gone, nothing holds it
        }
        why.addAll(openBy(blockDevice));
        return why;
    }

    /** Processes other than this one with the device open. */
    private static List<String> openBy(Path dev) {
        List<String> out = new ArrayList<>();
        long self = ProcessHandle.current().pid();
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString()
                .chars().allMatch(Character::isDigit))) {
            for (Path proc : procs) {
                if (Long.parseLong(proc.getFileName().toString()) == self) {
                    continue;
                }
                try (DirectoryStream<Path> fds = Files.newDirectoryStream(proc.resolve("fd"))) {
                    for (Path fd : fds) {
                        Path target;
                        try {
                            target = Files.readSymbolicLink(fd);
                        } catch (IOException e) {
                            continue; // closed meanwhile
                        }
                        if (target.equals(dev)) {
                            out.add("open by pid " + proc.getFileName() + " (" + command(proc) + ")");
                            break;
                        }
                    }
                } catch (IOException e) {
                    // the process ended, or its fds are not ours to see
                }
            }
        } catch (IOException e) {
            out.add("cannot scan /proc: " + e.getMessage());
        }
        return out;
    }

    private static String command(Path proc) {
        try {
            return Files.readString(proc.resolve("comm")).strip();
        } catch (IOException e) {
            return "?";
        }
    }
}
