package io.ublk.blockcache.cache.journal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class JournalViewsTest {
    @TempDir
    Path tmp;

    private JournalFile file(String name, byte[] bytes) throws Exception {
        Path p = tmp.resolve(name);
        Files.write(p, bytes);
        return new JournalFile(1, p, null);
    }

    private static byte[] counting(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 7);
        }
        return b;
    }

    @Test
    void aSliceIsTheFilesBytesAndOutlivesTheFilesDeletion() throws Exception {
        byte[] bytes = counting(3 * 4096);
        JournalFile f = file("a.jnl", bytes);
        JournalViews v = new JournalViews();
        MemorySegment s = v.slice(f, 4096 + 48, 1000);
        Files.delete(f.path); // the journal deletes a committed file while a failed PUT may still read it
        assertThat(s.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(java.util.Arrays.copyOfRange(bytes, 4096 + 48, 4096 + 1048));
        assertThat(v.close()).isTrue();
        assertThatThrownBy(() -> s.get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
        f.closeReader();
    }

    @Test
    void aFileThatGrewIsMappedAgain() throws Exception {
        JournalFile f = file("b.jnl", counting(4096));
        JournalViews v = new JournalViews();
        v.slice(f, 0, 4096);
        byte[] more = counting(8192);
        Files.write(f.path, more); // appended since the first mapping
        assertThat(v.slice(f, 4096, 4096).toArray(ValueLayout.JAVA_BYTE))
                .isEqualTo(java.util.Arrays.copyOfRange(more, 4096, 8192));
        assertThat(v.close()).isTrue();
        f.closeReader();
    }

    @Test
    void afterASuccessTheViewsGoAtOnceAfterAFailureOnlyOnceTheGraceIsOver() throws Exception {
        JournalFile f = file("c.jnl", counting(4096));
        JournalViews.Graveyard graves = new JournalViews.Graveyard(TimeUnit.MILLISECONDS.toNanos(200));

        JournalViews ok = new JournalViews();
        MemorySegment okSlice = ok.slice(f, 0, 16);
        graves.release(ok, true);
        assertThat(graves.size()).isZero();
        assertThatThrownBy(() -> okSlice.get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);

        JournalViews failed = new JournalViews();
        MemorySegment failedSlice = failed.slice(f, 0, 16);
        graves.release(failed, false);
        graves.sweep();
        // the HTTP client may still be reading a failed PUT's body: it must stay mapped for now
        assertThat(graves.size()).isOne();
        assertThat(failedSlice.get(ValueLayout.JAVA_BYTE, 1)).isEqualTo((byte) 7);
        Thread.sleep(250);
        graves.sweep();
        assertThat(graves.size()).isZero();
        assertThatThrownBy(() -> failedSlice.get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);

        JournalViews unused = new JournalViews();
        graves.release(unused, false); // maps nothing: nothing to keep
        assertThat(graves.size()).isZero();
        f.closeReader();
    }
}
