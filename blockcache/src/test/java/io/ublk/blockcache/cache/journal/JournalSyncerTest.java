package io.ublk.blockcache.cache.journal;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.blockcache.Requests;
import io.ublk.blockcache.cache.CacheStats;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The syncer answers every FLUSH, whatever fails under it. */
class JournalSyncerTest {
    @TempDir Path tmp;

    static int flush(Journal j) throws Exception {
        CompletableFuture<Integer> r = new CompletableFuture<>();
        j.requestSync(1, (tag, result) -> r.complete(result), 0);
        return r.get(10, TimeUnit.SECONDS);
    }

    @Test
    void aSyncerThatMeetsAnUncheckedFailureAnswersEveryFlushWithEio() throws Exception {
        AtomicInteger asked = new AtomicInteger();
        Journal.AckGate throwsOnce = () -> {
            if (asked.incrementAndGet() == 2) {
                throw new IllegalStateException("injected: a bug under the syncer");
            }
            return true;
        };
        Path dir = Journal.createFolder(tmp.resolve("vol").resolve("journal"));
        try (Journal j = new Journal(dir, 4 << 20, 1 << 20, new CacheStats(), List.of(), throwsOnce, JournalChannels.FILES)) {
            JournalLane lane = j.newLane();
            lane.append(JournalRecord.WRITE, 1, 1, 0, 4096, MemorySegment.ofArray(new byte[4096]), 0);
            assertThat(flush(j)).isZero();
            assertThat(flush(j)).as("the FLUSH the failure struck").isEqualTo(-Requests.EIO);
            assertThat(j.failed()).isTrue();
            assertThat(flush(j)).as("a FLUSH after it").isEqualTo(-Requests.EIO);
        }
    }
}
