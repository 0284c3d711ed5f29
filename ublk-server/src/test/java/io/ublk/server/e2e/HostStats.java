package io.ublk.server.e2e;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Totals of the (guest) machine and of one process, read from /proc. */
final class HostStats {
    private HostStats() {}

    /** System-wide: struct files, file-nr, user and kernel threads, unreclaimable slab, kernel stacks, MemAvailable. */
    record System(long openFiles, long fileNr, long userThreads, long kernelThreads, long slabUnreclaimKib,
                  long kernelStackKib, long memAvailableKib, long selfRssKib) {
        @Override
        public String toString() {
            return "struct files (filp slab) " + openFiles + ", file-nr " + fileNr + ", user threads " + userThreads
                    + ", kernel threads " + kernelThreads
                    + ", SUnreclaim " + slabUnreclaimKib + " KiB, KernelStack " + kernelStackKib
                    + " KiB, MemAvailable " + memAvailableKib + " KiB (test JVM RSS " + selfRssKib + " KiB)";
        }
    }

    /** One process: open fds, threads, resident memory. */
    record Proc(long fds, long threads, long rssKib) {
        @Override
        public String toString() {
            return "fds " + fds + ", threads " + threads + ", VmRSS " + rssKib + " KiB";
        }
    }

    /**
     * Lets the kernel finish deferred frees (fput, RCU), drops clean caches (so only memory that is
     * really held counts), then reads the totals.
     */
    static System settledSystem() throws IOException, InterruptedException {
        Thread.sleep(2000);
        Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3");
        // SLUB counts the objects of every slab page it holds, per-cpu and partial ones included:
        // without a shrink the filp count moves by hundreds from one reading to the next (seen:
        // 714 and 508 for the same state). Shrinking hands back what no file uses.
        Path shrink = Path.of("/sys/kernel/slab/filp/shrink");
        if (Files.exists(shrink)) {
            Files.writeString(shrink, "1");
        }
        Thread.sleep(500);
        long fileNr = Long.parseLong(Files.readString(Path.of("/proc/sys/fs/file-nr")).trim().split("\\s+")[0]);
        // file-nr is a per-cpu counter read without its per-cpu parts: exact counts come from the slab.
        Matcher filp = Pattern.compile("(?m)^filp\\s+(\\d+)").matcher(Files.readString(Path.of("/proc/slabinfo")));
        if (!filp.find()) {
            throw new IllegalStateException("no filp cache in /proc/slabinfo");
        }
        long files = Long.parseLong(filp.group(1));
        long user = 0;
        long kernel = 0;
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString()
                .matches("\\d+"))) {
            for (Path p : procs) {
                try {
                    long n = count(p.resolve("task"));
                    if (isKernelThread(p)) {
                        kernel += n;
                    } else {
                        user += n;
                    }
                } catch (NoSuchFileException e) {
                    // exited meanwhile
                }
            }
        }
        String meminfo = Files.readString(Path.of("/proc/meminfo"));
        return new System(files, fileNr, user, kernel, field(meminfo, "SUnreclaim"), field(meminfo, "KernelStack"),
                field(meminfo, "MemAvailable"), field(Files.readString(Path.of("/proc/self/status")), "VmRSS"));
    }

    static Proc process(long pid) throws IOException {
        Path p = Path.of("/proc", Long.toString(pid));
        return new Proc(count(p.resolve("fd")), count(p.resolve("task")),
                field(Files.readString(p.resolve("status")), "VmRSS"));
    }

    /** Kernel threads are kthreadd (pid 2) and its children. */
    private static boolean isKernelThread(Path proc) throws IOException {
        String stat = Files.readString(proc.resolve("stat"));
        String[] after = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return proc.getFileName().toString().equals("2") || after[1].equals("2");
    }

    private static long count(Path dir) throws IOException {
        long n = 0;
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            for (Path ignored : s) {
                n++;
            }
        }
        return n;
    }

    private static long field(String text, String name) {
        Matcher m = Pattern.compile("(?m)^" + name + ":\\s+(\\d+)").matcher(text);
        if (!m.find()) {
            throw new IllegalStateException("no " + name + " in " + text);
        }
        return Long.parseLong(m.group(1));
    }
}
