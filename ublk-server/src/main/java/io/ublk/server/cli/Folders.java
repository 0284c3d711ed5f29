package io.ublk.server.cli;

import java.nio.file.Files;
import java.nio.file.Path;

/** Checks that a folder can be used (or created) before anything is created. */
final class Folders {
    private Folders() {}

    /**
     * An existing folder must be a readable, writable directory; a missing one needs an existing,
     * writable parent (it is created later, once every argument checked out).
     */
    static void checkUsable(String option, Path dir) {
        Path abs = dir.toAbsolutePath().normalize();
        if (Files.exists(abs)) {
            if (!Files.isDirectory(abs)) {
                throw new IllegalArgumentException(option + " is not a folder: " + dir);
            }
            if (!Files.isReadable(abs) || !Files.isWritable(abs) || !Files.isExecutable(abs)) {
                throw new IllegalArgumentException(option + " must be a readable and writable folder: " + dir);
            }
            return;
        }
        Path parent = abs.getParent();
        while (parent != null && !Files.exists(parent)) {
            parent = parent.getParent();
        }
        if (parent == null || !Files.isDirectory(parent)) {
            throw new IllegalArgumentException(option + " cannot be created: " + dir + " (" + parent + " is not a folder)");
        }
        if (!Files.isWritable(parent) || !Files.isExecutable(parent)) {
            throw new IllegalArgumentException(option + " cannot be created: " + dir + " (" + parent + " is not writable)");
        }
    }
}
