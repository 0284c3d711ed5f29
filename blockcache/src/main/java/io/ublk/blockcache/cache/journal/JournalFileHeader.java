package io.ublk.blockcache.cache.journal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.zip.CRC32C;

/**
 * The first page of a format 2 journal file: what the file is, and two sync marks that say how
 * far the file was durable at its last force. Little-endian:
 * <pre>
 *    0 magic u64 "UBKJRNL2"   8 file id u64 (the one its name carries)   16 zeros to 512
 *  512 sync mark slot 0      1024 sync mark slot 1                       (one 512-byte sector each)
 * 4096 first record
 *
 * slot:  0 generation u64 (0: none)   8 synced u64 (file bytes, a record boundary)   16 crc32c u32 of bytes 0..16   20 0 u32
 * </pre>
 * A mark is written after a force returned, never before it, into the slot its generation
 * picks, and only the other slot holds the previous mark; so whatever a crash leaves, one slot
 * holds a mark that was forced, and no mark claims bytes that were not. The first mark (the
 * header itself) is forced when the file is created, before any record goes in.
 */
final class JournalFileHeader {
    /** "UBKJRNL2" read little-endian. Format 1 files have no header: they start with a record. */
    static final long MAGIC = 0x324C4E524A4B4255L;
    static final int MAGIC_AT = 0;
    static final int FILE_ID_AT = 8;
    /** A slot per sector, so a torn sector write can spoil at most the slot being written. */
    static final int SECTOR = 512;
    static final int SLOT_0_AT = SECTOR;
    static final int GENERATION_AT = 0;
    static final int SYNCED_AT = 8;
    static final int MARK_CRC_AT = 16;
    static final int MARK_PAD_AT = 20;
    static final int SLOT_BYTES = 24;
    /** Two slots: one to write while the other holds the last durable mark. */
    static final int SLOTS = 2;
    /** The mark a new file's header carries; 0 means no mark. */
    static final long FIRST_GENERATION = 1;
    /** Records start on the second page: the header page is the only one rewritten in place. */
    static final int BYTES = 4096;

    private JournalFileHeader() {}

    /** A durable-mark reading: generation and file bytes forced. */
    record Mark(long generation, long synced) {}

    /** Where the slot of mark {@code generation} is (slots alternate). */
    static int slotAt(long generation) {
        return SLOT_0_AT + (int) (generation % SLOTS) * SECTOR;
    }

    /** The whole header of a new file, its first mark saying nothing past the header is durable. */
    static ByteBuffer initial(long fileId) {
        ByteBuffer b = ByteBuffer.allocate(BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(MAGIC_AT, MAGIC).putLong(FILE_ID_AT, fileId);
        putMark(b.slice(slotAt(FIRST_GENERATION), SLOT_BYTES).order(ByteOrder.LITTLE_ENDIAN), FIRST_GENERATION, BYTES);
        return b;
    }

    static void putMark(ByteBuffer slot, long generation, long synced) {
        slot.putLong(GENERATION_AT, generation).putLong(SYNCED_AT, synced);
        CRC32C crc = new CRC32C();
        crc.update(slot.slice(0, MARK_CRC_AT));
        slot.putInt(MARK_CRC_AT, (int) crc.getValue()).putInt(MARK_PAD_AT, 0);
    }

    /** Writes mark {@code generation} (not forced: the next force of the file makes it durable). */
    static void writeMark(FileChannel ch, ByteBuffer slot, long generation, long synced) throws IOException {
        slot.clear();
        putMark(slot, generation, synced);
        long at = slotAt(generation);
        while (slot.hasRemaining()) {
            at += ch.write(slot, at);
        }
    }

    static boolean isHeader(ByteBuffer page) {
        return page.limit() >= BYTES && page.getLong(MAGIC_AT) == MAGIC;
    }

    /** The newest valid mark in a header page, or null if neither slot holds one. */
    static Mark newestMark(ByteBuffer page) {
        Mark best = null;
        for (long parity = 0; parity < SLOTS; parity++) {
            ByteBuffer slot = page.slice(slotAt(parity), SLOT_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            long generation = slot.getLong(GENERATION_AT);
            long synced = slot.getLong(SYNCED_AT);
            CRC32C crc = new CRC32C();
            crc.update(slot.slice(0, MARK_CRC_AT));
            boolean valid = generation >= FIRST_GENERATION && generation % SLOTS == parity && synced >= BYTES
                    && slot.getInt(MARK_CRC_AT) == (int) crc.getValue();
            if (valid && (best == null || generation > best.generation())) {
                best = new Mark(generation, synced);
            }
        }
        return best;
    }

    static ByteBuffer slotBuffer() {
        return ByteBuffer.allocate(SLOT_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    }
}
