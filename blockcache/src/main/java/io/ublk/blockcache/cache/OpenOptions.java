package io.ublk.blockcache.cache;

import java.nio.file.Path;

/**
 * One-time choices for an open that would otherwise be refused: what an operator decides, never
 * a default.
 *
 * @param takeover       break a live lease of another writer (that writer's FLUSHes fail from
 *                       then on; this open waits out its ttl before serving)
 * @param discardJournal drop journal records the store does not have when another writer
 *                       committed after them (they are lost)
 * @param saveJournalTo  a folder to copy those journal files into first (then they are dropped);
 *                       null for none
 */
public record OpenOptions(boolean takeover, boolean discardJournal, Path saveJournalTo) {
    public static final OpenOptions DEFAULT = new OpenOptions(false, false, null);

    public OpenOptions withTakeover() {
        return new OpenOptions(true, discardJournal, saveJournalTo);
    }

    public OpenOptions withDiscardedJournal() {
        return new OpenOptions(takeover, true, saveJournalTo);
    }

    public OpenOptions withSavedJournal(Path folder) {
        return new OpenOptions(takeover, discardJournal, folder);
    }

    /** Whether stale journal records may go (discarded, or saved then discarded). */
    boolean dropsStaleJournal() {
        return discardJournal || saveJournalTo != null;
    }
}
