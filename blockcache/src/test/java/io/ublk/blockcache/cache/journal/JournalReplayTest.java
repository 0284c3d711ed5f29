package io.ublk.blockcache.cache.journal;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.ublk.blockcache.cache.CacheStats;
import io.ublk.blockcache.cache.VolumeException;
import io.ublk.blockcache.cache.format.Codec;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Replay at open against journals a crash or a damaged disk left: what may be cut (records past
 * the last sync a file recorded) and what must refuse the open and leave every file as it is.
 */
class JournalReplayTest {
    static final int DATA = 4096;
    static final int RECORD = JournalRecord.HEADER + DATA;
    static final int MAX_DATA = 1 << 20;

    @TempDir Path tmp;
    Path dir;
    final ListAppender<ILoggingEvent> log = new ListAppender<>();
    final Logger replayLog = (Logger) LoggerFactory.getLogger(JournalReplay.class);

    @BeforeEach
    void setUp() throws IOException {
        dir = Journal.createFolder(tmp.resolve("vol").resolve("journal"));
        log.start();
        replayLog.addAppender(log);
    }

    @AfterEach
    void tearDown() {
        replayLog.detachAppender(log);
    }

    /** A journal with no files yet, whose files roll over after {@code fileBytes}. */
    Journal journal(long fileBytes) {
        return new Journal(dir, fileBytes, MAX_DATA, new CacheStats(), List.of(), () -> true, JournalChannels.FILES);
    }

    static void write(JournalLane lane, long seq, int fill) throws IOException {
        byte[] b = new byte[DATA];
        java.util.Arrays.fill(b, (byte) fill);
        lane.append(JournalRecord.WRITE, 1, seq, seq * DATA, DATA, MemorySegment.ofArray(b), 0);
    }

    /** Where record {@code i} (0-based, all of {@link #DATA} bytes) of a file starts. */
    static long recordAt(int i) {
        return JournalFile.FIRST_RECORD + (long) i * RECORD;
    }

    JournalReplay.Result replay() throws IOException {
        return JournalReplay.replay(dir, 0);
    }

    List<Path> files() throws IOException {
        try (var s = Files.list(dir)) {
            return s.filter(p -> p.toString().endsWith(".jnl")).sorted().toList();
        }
    }

    /** Size and SHA-256 of every file in the journal folder. */
    Map<String, String> snapshot() throws Exception {
        Map<String, String> m = new TreeMap<>();
        try (var s = Files.list(dir)) {
            for (Path p : s.toList()) {
                byte[] h = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p));
                m.put(p.getFileName().toString(), Files.size(p) + " " + HexFormat.of().formatHex(h));
            }
        }
        return m;
    }

    static void flip(Path p, long at) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, at);
            b.put(0, (byte) (b.get(0) ^ 0x40)).position(0);
            ch.write(b, at);
        }
    }

    static void truncate(Path p, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
            ch.truncate(size);
        }
    }

    String logged() {
        return log.list.stream().map(e -> e.getLevel() + " " + e.getFormattedMessage()).reduce("", (a, b) -> a + b + "\n");
    }

    @Test
    void aTornTailPastTheLastSyncIsCutAndTheLogSaysWhy() throws Exception {
        Journal j = journal(Journal.DEFAULT_FILE_BYTES);
        JournalLane lane = j.newLane();
        write(lane, 1, 1);
        write(lane, 2, 2);
        j.syncNow();
        write(lane, 3, 3);
        j.abandon();
        Path f = files().get(0);
        // the third record loses its last bytes, as a power cut in the middle of writing it leaves it
        truncate(f, recordAt(3) - 100);

        JournalReplay.Result r = replay();

        assertThat(r.records()).extracting(l -> l.record().seq()).containsExactly(1L, 2L);
        assertThat(r.tornBytes()).isEqualTo(RECORD - 100);
        assertThat(Files.size(f)).isEqualTo(recordAt(2));
        assertThat(logged()).contains(f.getFileName().toString()).contains("torn tail")
                .contains("at offset " + recordAt(2)).contains("past the " + recordAt(2) + " bytes its last sync");
    }

    @Test
    void aFlippedByteBelowTheLastSyncRefusesTheOpenAndChangesNoFile() throws Exception {
        Journal j = journal(Journal.DEFAULT_FILE_BYTES);
        JournalLane lane = j.newLane();
        for (int s = 1; s <= 3; s++) {
            write(lane, s, s);
        }
        j.syncNow();
        write(lane, 4, 4);
        j.abandon();
        Path f = files().get(0);
        flip(f, recordAt(1) + JournalRecord.HEADER + 100);
        Map<String, String> before = snapshot();

        assertThatThrownBy(this::replay).isInstanceOf(VolumeException.class)
                .hasMessageContaining(f.toString()).hasMessageContaining("offset " + recordAt(1))
                .hasMessageContaining("bad CRC").hasMessageNotContaining("\n");
        assertThat(snapshot()).isEqualTo(before);
    }

    @Test
    void aBadRecordInAnEarlierFileRefusesWhileLaterFilesHoldRecords() throws Exception {
        // two records a file: three files for six records
        Journal j = journal(recordAt(2));
        JournalLane lane = j.newLane();
        for (int s = 1; s <= 6; s++) {
            write(lane, s, s);
        }
        j.close();
        List<Path> files = files();
        assertThat(files).hasSize(3);
        flip(files.get(0), recordAt(1)); // the magic of the first file's second record
        Map<String, String> before = snapshot();

        assertThatThrownBy(this::replay).isInstanceOf(VolumeException.class)
                .hasMessageContaining(files.get(0).toString()).hasMessageContaining("offset " + recordAt(1))
                .hasMessageContaining("bad magic");
        assertThat(snapshot()).isEqualTo(before);
    }

    @Test
    void aFileCutBelowItsLastSyncRefuses() throws Exception {
        Journal j = journal(Journal.DEFAULT_FILE_BYTES);
        JournalLane lane = j.newLane();
        write(lane, 1, 1);
        write(lane, 2, 2);
        j.syncNow();
        j.abandon();
        Path f = files().get(0);
        truncate(f, recordAt(1) + 10);
        Map<String, String> before = snapshot();

        assertThatThrownBy(this::replay).isInstanceOf(VolumeException.class)
                .hasMessageContaining(f.toString()).hasMessageContaining("offset " + recordAt(1));
        assertThat(snapshot()).isEqualTo(before);
    }

    @Test
    void aRetiredFileTheCrashCaughtBeforeItsForceMayBeCutToo() throws Exception {
        Journal j = journal(recordAt(2));
        JournalLane lane = j.newLane();
        for (int s = 1; s <= 4; s++) {
            write(lane, s, s); // the first file is retired after two, never forced
        }
        j.abandon();
        List<Path> files = files();
        assertThat(files).hasSize(2);
        truncate(files.get(0), recordAt(1) + 7);

        JournalReplay.Result r = replay();

        assertThat(r.records()).extracting(l -> l.record().seq()).containsExactly(1L, 3L, 4L);
        assertThat(logged()).contains(files.get(0).getFileName() + ": cut a torn tail");
    }

    @Test
    void whatReplayKeptIsDurableSoTheNextReplayGuardsIt() throws Exception {
        Journal j = journal(Journal.DEFAULT_FILE_BYTES);
        JournalLane lane = j.newLane();
        write(lane, 1, 1);
        write(lane, 2, 2); // never synced by its writer
        j.abandon();
        assertThat(replay().records()).hasSize(2);
        Path f = files().get(0);
        flip(f, recordAt(1) + JournalRecord.HEADER);

        assertThatThrownBy(this::replay).isInstanceOf(VolumeException.class).hasMessageContaining("bad CRC");
    }

    /** A journal file as versions before format 2 wrote it: records from offset 0, no file header. */
    static byte[] formatOneRecord(int type, long seq, long offset, long length, byte[] data) {
        byte[] r = new byte[JournalRecord.HEADER + data.length];
        MemorySegment m = MemorySegment.ofArray(r);
        JournalRecord.writeHeader(m, type, 1, seq, offset, length);
        System.arraycopy(data, 0, r, JournalRecord.HEADER, data.length);
        CRC32C crc = new CRC32C();
        crc.update(r);
        ByteBuffer.wrap(r).order(ByteOrder.LITTLE_ENDIAN).putInt(JournalRecord.CRC_AT, (int) crc.getValue());
        return r;
    }

    @Test
    void aFormatOneJournalWithZeroLengthRecordsReplaysWhole() throws Exception {
        byte[] data = new byte[DATA];
        java.util.Arrays.fill(data, (byte) 9);
        var out = new java.io.ByteArrayOutputStream();
        out.write(formatOneRecord(JournalRecord.WRITE, 1, 0, 0, new byte[0]));
        out.write(formatOneRecord(JournalRecord.ZERO, 2, 4096, 0, new byte[0]));
        out.write(formatOneRecord(JournalRecord.WRITE, 3, 8192, DATA, data));
        Path f = dir.resolve(JournalFile.name(1));
        Files.write(f, out.toByteArray());

        JournalReplay.Result r = replay();

        assertThat(r.records()).extracting(l -> l.record().seq()).containsExactly(3L);
        JournalScan.Located l = r.records().get(0);
        byte[] back = new byte[DATA];
        l.file().read(MemorySegment.ofArray(back), 0, DATA, l.dataPos());
        assertThat(back).isEqualTo(data);
        assertThat(l.dataCrc()).as("the record's CRC, of its data alone").isEqualTo(Codec.crc32c(data, 0, DATA));
        assertThat(r.maxSeq()).isEqualTo(3);
        assertThat(r.tornBytes()).isZero();
        assertThat(Files.size(f)).isEqualTo(out.size());
    }

    @Test
    void journalFilesAre0600AndTheirFolder0700() throws Exception {
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir))).isEqualTo("rwx------");
        Journal j = journal(Journal.DEFAULT_FILE_BYTES);
        write(j.newLane(), 1, 1);
        j.close();
        Path f = files().get(0);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).isEqualTo("rw-------");
    }

    @Test
    void anExistingFolderIsTightenedAndASymlinkRefused() throws Exception {
        Path open = Files.createDirectories(tmp.resolve("old").resolve("journal"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxr-xr-x"));
        Journal.createFolder(open);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(open))).isEqualTo("rwx------");

        Path link = Files.createSymbolicLink(tmp.resolve("old").resolve("link"), open);
        assertThatThrownBy(() -> Journal.createFolder(link)).isInstanceOf(IOException.class)
                .hasMessageContaining(link.toString());
    }
}
