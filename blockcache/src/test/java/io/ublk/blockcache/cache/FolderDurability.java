package io.ublk.blockcache.cache;

import io.ublk.blockcache.cache.journal.JournalFile;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * What a power cut leaves of one cache folder ({@code <cache>/<volume>/}): the bytes of each
 * journal file up to its last force, and only the directory entries made durable by a force of
 * their folder. The test cannot see fsync calls, so which entries are durable is worked out from
 * what the code under test forces and when; these rules mirror that code and change with it:
 * <ul>
 *   <li><b>Journal folder.</b> {@code Journal.forceAll} forces it in a sync round (FLUSH, FUA)
 *       only when the journal made a file since the round that last forced it ({@code dirChanged}
 *       is set by {@code Journal.newFile}). So once a sync answered, if the folder holds a file
 *       this process made, a force came after that file was made (all files here are made by the
 *       test's own writes, which answered before the sync was asked), and every entry older than
 *       this process is covered by it too; a folder holding only entries from before the open
 *       was not forced by this process at all: {@code JournalReplay} forces the files it keeps,
 *       not the folder. A deletion (trim) is durable once a force came after it, i.e. once a sync
 *       answered while the folder held a file made after the deletion was seen; until then a
 *       power cut may bring the deleted file back (whole: a file is trimmed only after its
 *       last force).</li>
 *   <li><b>Volume folder</b> ({@code lock}, {@code volume.id}, {@code journal/}): durable once
 *       an open that made the folder returned ({@code CacheOpener.writeId} writes the id through
 *       {@code LocalFiles.writeAtomically}, which forces the folder after the rename; the lock
 *       file and the journal folder were made before it). Entries made later are lost.</li>
 *   <li>With {@code contractOnly} the journal rule is the contract instead: an answered sync makes
 *       every entry there durable. That leaves out the one case the code does not cover (files
 *       found at replay whose entries were never forced, see the test's known bugs).</li>
 * </ul>
 * Deleted journal files are kept through hard links in a shadow folder so that a power cut can
 * bring them back.
 */
final class FolderDurability {
    static final String ID_FILE = "volume.id";

    private final Path volumeDir;
    private final Path journalDir;
    private final Path shadow;
    private final boolean contractOnly;
    /** Journal files whose entries are durable. */
    private final Set<String> durable = new HashSet<>();
    /** Durable journal files deleted since, with the listing in which they were first seen missing. */
    private final Map<String, Set<String>> ghosts = new HashMap<>();
    /** The journal folder's entries before this process opened the volume. */
    private Set<String> beforeOpen = Set.of();
    /** Whether the open about to run makes the folder (no id file yet). */
    private boolean opensNewFolder;
    /** The volume folder's durable entries. */
    private Set<String> durableVolumeEntries = Set.of();
    int lostFiles;
    int revivedFiles;
    int cutFiles;
    /** What the last power cut did, for failure messages. */
    String lastCut = "no power cut yet";

    FolderDurability(Path volumeDir, Path shadow, boolean contractOnly) {
        this.volumeDir = volumeDir;
        this.journalDir = volumeDir.resolve("journal");
        this.shadow = shadow;
        this.contractOnly = contractOnly;
    }

    /** Call before opening the volume on this folder (once, however many attempts the open takes). */
    void beforeOpen() throws IOException {
        beforeOpen = list(journalDir);
        opensNewFolder = !Files.exists(volumeDir.resolve(ID_FILE));
    }

    /** Call once the open returned. */
    void opened() throws IOException {
        // CacheTarget.start forces the journal folder after replay: what the open found is durable
        Set<String> found = new HashSet<>(list(journalDir));
        found.retainAll(beforeOpen);
        markDurable(found);
        if (opensNewFolder) {
            durableVolumeEntries = list(volumeDir);
            opensNewFolder = false;
        }
    }

    /** These journal entries survive a power cut from now on (kept through hard links). */
    private void markDurable(Set<String> names) throws IOException {
        for (String n : names) {
            if (durable.add(n)) {
                ghosts.remove(n);
                Path link = shadow.resolve(n);
                Files.createDirectories(shadow);
                Files.deleteIfExists(link);
                try {
                    Files.createLink(link, journalDir.resolve(n));
                } catch (NoSuchFileException trimmedMeanwhile) {
                    durable.remove(n);
                }
            }
        }
    }

    /** Call when a FLUSH or a FUA write answered success. */
    void syncAnswered() throws IOException {
        Set<String> now = list(journalDir);
        noticeDeletions(now);
        Set<String> made = new HashSet<>(now);
        made.removeAll(beforeOpen);
        if (made.isEmpty() && !contractOnly) {
            return; // no file made by this process: nothing forced the folder since it started
        }
        markDurable(now);
        // a deletion is durable once a force came after it: after a file made since it was seen
        ghosts.entrySet().removeIf(g -> {
            boolean forced = contractOnly || made.stream().anyMatch(m -> !g.getValue().contains(m));
            if (forced) {
                deleteQuietly(shadow.resolve(g.getKey()));
            }
            return forced;
        });
    }

    private void noticeDeletions(Set<String> now) {
        for (var it = durable.iterator(); it.hasNext(); ) {
            String n = it.next();
            if (!now.contains(n)) {
                it.remove();
                ghosts.put(n, Set.copyOf(now));
            }
        }
    }

    /**
     * The power cut, on a folder whose process is gone: journal files whose entry is not durable
     * go, the others are cut anywhere after their last forced byte ({@code files}: the crashed
     * journal's, read before the crash), deleted files whose deletion was not durable may come
     * back, and volume folder entries made since its last force go. What is left is the disk.
     */
    void powerCut(List<JournalFile> files, Random random) throws IOException {
        Set<String> now = list(journalDir);
        noticeDeletions(now);
        List<String> lost = new java.util.ArrayList<>();
        List<String> back = new java.util.ArrayList<>();
        Map<String, JournalFile> known = new HashMap<>();
        for (JournalFile f : files) {
            known.put(f.path.getFileName().toString(), f);
        }
        for (String n : now) {
            Path p = journalDir.resolve(n);
            if (!durable.contains(n)) {
                Files.delete(p);
                lostFiles++;
                lost.add(n + (beforeOpen.contains(n) ? " (found at the last open, never forced since)" : ""));
                continue;
            }
            JournalFile f = known.get(n);
            long size = Files.size(p);
            if (f != null && size > f.synced) {
                long cut = f.synced + (long) (random.nextDouble() * (size - f.synced));
                try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
                    ch.truncate(cut);
                }
                cutFiles++;
            }
        }
        for (String g : new TreeSet<>(ghosts.keySet())) {
            Path link = shadow.resolve(g);
            if (random.nextBoolean() && Files.exists(link) && Files.isDirectory(journalDir)) {
                Files.createLink(journalDir.resolve(g), link);
                revivedFiles++;
                back.add(g);
            }
        }
        for (String e : list(volumeDir)) {
            if (!durableVolumeEntries.contains(e)) {
                deleteTree(volumeDir.resolve(e));
            }
        }
        lastCut = "the last power cut lost journal files " + lost + ", brought back deleted " + back;
        // what is left is on disk now
        durable.clear();
        ghosts.clear();
        deleteTree(shadow);
        durableVolumeEntries = list(volumeDir);
        beforeOpen = Set.of();
        Set<String> left = list(journalDir);
        Files.createDirectories(shadow);
        for (String n : left) {
            durable.add(n);
            Files.createLink(shadow.resolve(n), journalDir.resolve(n));
        }
    }

    static Set<String> list(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return Set.of();
        }
        Set<String> names = new TreeSet<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.forEach(p -> names.add(p.getFileName().toString()));
        }
        return names;
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // a leftover link is never used: its name left the ghosts
        }
    }
}
