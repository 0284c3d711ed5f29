package io.ublk.blockcache.cache;

import io.ublk.blockcache.IoFlags;
import io.ublk.blockcache.cache.volume.WriterLease;
import io.ublk.s3.FaultInjectingStore;
import io.ublk.s3.LocalObjectStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** One writer per volume: the lease, replay that knows who committed last, and the first-open race. */
class WriterSafetyTest {
    static final int BS = 128 * 1024;
    static final long SIZE = 32L * BS;

    @TempDir Path tmp;
    LocalObjectStore local;

    @BeforeEach
    void store() {
        local = new LocalObjectStore(tmp.resolve("store"));
    }

    @AfterEach
    void closeStore() {
        local.close();
    }

    CacheConfig config(String cache, Duration ttl) {
        return CacheConfig.of(tmp.resolve(cache), "vol", SIZE).withSizes(16L * BS, 8L * BS, 4L * BS)
                .withUpload(Duration.ofMinutes(10), 2).withLease(WriterLease.Terms.of(ttl));
    }

    static byte[] fill(int seed) {
        byte[] b = new byte[BS];
        new Random(seed).nextBytes(b);
        return b;
    }

    String writerOf(String cache) throws IOException {
        return Files.readAllLines(tmp.resolve(cache).resolve("vol").resolve("volume.id"), StandardCharsets.US_ASCII).get(1);
    }

    @Test
    void aSecondWriterIsRefusedWithTheHolderAndItsExpiry() throws Exception {
        try (CacheTarget a = CacheTarget.open(config("a", Duration.ofSeconds(30)), local)) {
            assertThatThrownBy(() -> CacheTarget.open(config("b", Duration.ofSeconds(30)), local))
                    .isInstanceOf(VolumeException.class)
                    .hasMessageContaining("leased to writer " + writerOf("a"))
                    .hasMessageContaining("until ")
                    .hasMessageContaining("--takeover");
            // the refused open changed nothing the first writer relies on
            try (Io io = new Io(a)) {
                assertThat(io.write(0, fill(1), 0)).isEqualTo(BS);
                assertThat(io.flush()).isZero();
            }
        }
    }

    @Test
    void aRestartWithTheSameFolderTakesItsLeaseBackAtOnce() {
        CacheTarget a = CacheTarget.open(config("a", Duration.ofSeconds(30)), local);
        try (Io io = new Io(a)) {
            assertThat(io.write(0, fill(2), 0)).isEqualTo(BS);
            assertThat(io.flush()).isZero();
        }
        a.crash();
        long t0 = System.nanoTime();
        try (CacheTarget again = CacheTarget.open(config("a", Duration.ofSeconds(30)), local); Io io = new Io(again)) {
            assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0)).isLessThan(15);
            assertThat(io.read(0, BS)).isEqualTo(fill(2));
            assertThat(io.flush()).isZero();
        }
    }

    @Test
    void aDeadWritersLeaseIsTakenOnceItEnded() {
        CacheTarget a = CacheTarget.open(config("a", Duration.ofSeconds(1)), local);
        a.crash();
        assertThatThrownBy(() -> CacheTarget.open(config("b", Duration.ofSeconds(1)), local))
                .hasMessageContaining("leased to writer");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        CacheTarget b = null;
        while (b == null) {
            try {
                b = CacheTarget.open(config("b", Duration.ofSeconds(1)), local);
            } catch (VolumeException e) {
                assertThat(System.nanoTime()).isLessThan(deadline);
                sleep(200);
            }
        }
        b.close();
    }

    @Test
    void takeoverBreaksTheLeaseAndTheOldWriterStopsAcknowledgingFlush() {
        try (CacheTarget a = CacheTarget.open(config("a", Duration.ofSeconds(2)), local); Io ia = new Io(a)) {
            assertThat(ia.write(0, fill(3), 0)).isEqualTo(BS);
            assertThat(ia.flush()).isZero();
            long t0 = System.nanoTime();
            try (CacheTarget b = CacheTarget.open(config("b", Duration.ofSeconds(2)), local, OpenOptions.DEFAULT.withTakeover());
                    Io ib = new Io(b)) {
                // the breaker waited out the old holder's ttl before serving
                assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(TimeUnit.SECONDS.toNanos(2));
                assertThat(ia.write(BS, fill(4), 0)).isEqualTo(-5);
                assertThat(ia.flush()).isEqualTo(-5);
                assertThat(a.stats().leasesLost()).isEqualTo(1);
                assertThat(a.stopped()).contains("another writer took its lease");
                assertThat(ib.write(0, fill(5), 0)).isEqualTo(BS);
                assertThat(ib.flush()).isZero();
            }
        }
    }

    @Test
    void aTakeoverWhoseFirstRenewalFailsRetriesItAndServes() throws Exception {
        FaultInjectingStore faulty = new FaultInjectingStore(local);
        try (CacheTarget a = CacheTarget.open(config("a", Duration.ofSeconds(2)), local)) {
            // the break lands at once; while the breaker waits out a's ttl, its coming renewal is made to fail twice
            Thread arm = Thread.ofPlatform().start(() -> {
                sleep(1000);
                faulty.failNext(FaultInjectingStore.Op.PUT_IF_MATCH, 2);
            });
            try (CacheTarget b = CacheTarget.open(config("b", Duration.ofSeconds(2)), faulty, OpenOptions.DEFAULT.withTakeover());
                    Io ib = new Io(b)) {
                arm.join();
                assertThat(faulty.injected()).as("renewals failed").isEqualTo(2);
                assertThat(b.stats().leaseRenewFailures()).isEqualTo(2);
                assertThat(ib.write(0, fill(9), 0)).isEqualTo(BS);
                assertThat(ib.flush()).isZero();
            }
            assertThat(a.stats().leasesLost()).isEqualTo(1);
        }
    }

    @Test
    void aLeaseThatCannotBeRenewedStopsFlushUntilARenewalLands() {
        FaultInjectingStore faulty = new FaultInjectingStore(local);
        try (CacheTarget a = CacheTarget.open(config("a", Duration.ofSeconds(1)), faulty); Io io = new Io(a)) {
            assertThat(io.write(0, fill(6), 0)).isEqualTo(BS);
            assertThat(io.flush()).isZero();
            faulty.failRandomly(1.0, 7, FaultInjectingStore.Op.PUT_IF_MATCH, FaultInjectingStore.Op.GET);
            sleep(1500);
            assertThat(io.flush()).isEqualTo(-5);
            assertThat(io.write(BS, fill(7), IoFlags.FUA)).isEqualTo(-5);
            assertThat(a.stats().flushRefused()).isGreaterThanOrEqualTo(2);
            assertThat(a.stats().leaseRenewFailures()).isPositive();
            faulty.failRandomly(0, 7);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (io.flush() != 0) {
                assertThat(System.nanoTime()).isLessThan(deadline);
                sleep(100);
            }
            assertThat(a.stats().leasesLost()).isZero();
        }
    }

    @Test
    void aRenewalWhoseAnswerWasLostIsRecognisedAsOurOwn() {
        FaultInjectingStore faulty = new FaultInjectingStore(local);
        try (CacheTarget a = CacheTarget.open(config("a", Duration.ofSeconds(1)), faulty); Io io = new Io(a)) {
            long before = a.stats().leaseRenewals();
            faulty.loseNextAnswers(FaultInjectingStore.Op.PUT_IF_MATCH, 2);
            sleep(1800);
            assertThat(a.stats().leasesLost()).isZero();
            assertThat(a.stats().leaseRenewals()).isGreaterThan(before + 1);
            assertThat(io.write(0, fill(8), 0)).isEqualTo(BS);
            assertThat(io.flush()).isZero();
        }
    }

    @Test
    void aJournalTheStoreLacksIsRefusedWhenAnotherWriterCommittedLast() throws Exception {
        CacheTarget a = CacheTarget.open(config("a", Duration.ofSeconds(1)), local);
        try (Io io = new Io(a)) {
            assertThat(io.write(0, fill(10), 0)).isEqualTo(BS);
            assertThat(io.write(2L * BS, fill(11), 0)).isEqualTo(BS);
            assertThat(io.flush()).isZero();
        }
        a.crash(); // flushed, never uploaded: only a's journal has it
        try (CacheTarget b = CacheTarget.open(config("b", Duration.ofSeconds(1)), local, OpenOptions.DEFAULT.withTakeover());
                Io io = new Io(b)) {
            assertThat(io.write(BS, fill(12), 0)).isEqualTo(BS);
            b.drain();
        }
        Path journal = tmp.resolve("a").resolve("vol").resolve("journal");
        Map<String, Long> before = files(journal);
        assertThatThrownBy(() -> CacheTarget.open(config("a", Duration.ofSeconds(1)), local))
                .isInstanceOf(VolumeException.class)
                .hasMessageContaining("2 journal records (" + 2 * BS + " data bytes")
                .hasMessageContaining("writer " + writerOf("b"))
                .hasMessageContaining("--discard-journal");
        assertThat(files(journal)).isEqualTo(before);

        Path saved = tmp.resolve("saved");
        try (CacheTarget again = CacheTarget.open(config("a", Duration.ofSeconds(1)), local,
                OpenOptions.DEFAULT.withSavedJournal(saved)); Io io = new Io(again)) {
            // the store's image, b's: a's stale records were not applied over it
            assertThat(io.read(0, BS)).isEqualTo(new byte[BS]);
            assertThat(io.read(BS, BS)).isEqualTo(fill(12));
            assertThat(io.read(2L * BS, BS)).isEqualTo(new byte[BS]);
        }
        assertThat(files(saved)).isEqualTo(before);
    }

    @Test
    void theLoserOfAFirstOpenRaceChangesNothing() throws Exception {
        Path dir = tmp.resolve("race").resolve("vol");
        Process winner = null;
        try {
            // the winner gets in between the loser's first look (no folder yet) and its lock
            Process[] holder = new Process[1];
            CacheOpener.beforeLock = () -> holder[0] = LockHolder.start(dir);
            assertThatThrownBy(() -> CacheTarget.open(config("race", Duration.ofSeconds(30)), local))
                    .hasMessageContaining("in use by another process");
            winner = holder[0];
            assertThat(dir.resolve("lock")).exists();
            assertThat(dir.resolve("volume.id")).exists();
            assertThat(dir.resolve("journal").resolve(LockHolder.JOURNAL_FILE)).exists();
        } finally {
            CacheOpener.beforeLock = () -> {};
            if (winner != null) {
                winner.destroy();
                winner.waitFor();
            }
        }
        // and once the winner is gone, the folder opens (its id names another volume: refused with that reason)
        assertThatThrownBy(() -> CacheTarget.open(config("race", Duration.ofSeconds(30)), local))
                .hasMessageContaining("holds volume");
    }

    static Map<String, Long> files(Path dir) throws IOException {
        Map<String, Long> m = new TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                m.put(p.getFileName().toString(), Files.size(p));
            }
        }
        return m;
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
