package io.ublk.s3;

import static io.ublk.s3.ObjectStoreContractTest.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ublk.s3.FaultInjectingStore.Op;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FaultInjectingStoreTest {
    @TempDir
    Path root;
    private LocalObjectStore real;
    private FaultInjectingStore faulty;

    /** Which put the wrapped store was handed: the parts put must not arrive copied into one array. */
    private final List<String> puts = new ArrayList<>();

    @BeforeEach
    void open() {
        real = new LocalObjectStore(root);
        faulty = new FaultInjectingStore(new Recording(real));
    }

    /** Passes everything on, noting each put overload it is handed. */
    private final class Recording implements ObjectStore {
        private final ObjectStore d;

        Recording(ObjectStore d) {
            this.d = d;
        }

        public CompletableFuture<StoredObject> get(String k) {
            return d.get(k);
        }

        public CompletableFuture<byte[]> getRange(String k, long o, int n) {
            return d.getRange(k, o, n);
        }

        public CompletableFuture<String> put(String k, byte[] data) {
            puts.add("bytes");
            return d.put(k, data);
        }

        public CompletableFuture<String> put(String k, List<ByteBuffer> parts) {
            puts.add("parts");
            return d.put(k, parts);
        }

        public CompletableFuture<String> putIfAbsent(String k, byte[] data) {
            return d.putIfAbsent(k, data);
        }

        public CompletableFuture<String> putIfMatch(String k, byte[] data, String etag) {
            return d.putIfMatch(k, data, etag);
        }

        public CompletableFuture<Void> delete(String k) {
            return d.delete(k);
        }

        public CompletableFuture<Void> deleteAll(List<String> keys) {
            return d.deleteAll(keys);
        }

        public CompletableFuture<ListPage> list(String prefix, String continuation, int maxKeys) {
            return d.list(prefix, continuation, maxKeys);
        }

        public String describe() {
            return d.describe();
        }

        public void close() {
            d.close();
        }
    }

    private static List<ByteBuffer> parts(byte... bytes) {
        List<ByteBuffer> parts = new ArrayList<>();
        for (byte b : bytes) {
            parts.add(ByteBuffer.wrap(new byte[] {b}));
        }
        return parts;
    }

    /** Applied by the store, failed to the caller with a plain StoreException, for each kind of put. */
    private void losesTheAnswer(Op op, String key, byte[] expected, Supplier<CompletableFuture<String>> put) {
        faulty.loseNextAnswers(op, 1);
        assertThatThrownBy(() -> await(put.get())).as(key).isExactlyInstanceOf(StoreException.class)
                .hasMessageStartingWith("injected lost answer").hasMessageContaining("(applied)");
        assertThat(await(real.get(key)).data()).as(key).isEqualTo(expected);
    }

    @Test
    void everyKindOfPutCanLoseItsAnswer() {
        losesTheAnswer(Op.PUT, "bytes", new byte[] {1}, () -> faulty.put("bytes", new byte[] {1}));
        losesTheAnswer(Op.PUT, "parts", new byte[] {2, 3}, () -> faulty.put("parts", parts((byte) 2, (byte) 3)));
        losesTheAnswer(Op.PUT_IF_ABSENT, "absent", new byte[] {4}, () -> faulty.putIfAbsent("absent", new byte[] {4}));
        String etag = await(real.put("match", new byte[] {5}));
        losesTheAnswer(Op.PUT_IF_MATCH, "match", new byte[] {6}, () -> faulty.putIfMatch("match", new byte[] {6}, etag));
        assertThat(faulty.injected()).isEqualTo(4);
    }

    @Test
    void thePartsPutReachesTheStoreAsPartsAndCountsAsAPut() {
        await(faulty.put("p", parts((byte) 1, (byte) 2)));
        assertThat(puts).containsExactly("parts");
        faulty.failNext(Op.PUT, 1);
        assertThatThrownBy(() -> await(faulty.put("q", parts((byte) 3)))).isExactlyInstanceOf(StoreException.class);
        assertThatThrownBy(() -> await(real.get("q"))).isInstanceOf(ObjectNotFoundException.class);
        assertThat(puts).containsExactly("parts");
    }

    /**
     * An injected failure is never a PreconditionFailedException, which would tell the caller the
     * store decided; and a lost answer does not claim "applied" when the store had refused.
     */
    @Test
    void injectedFailuresAreGenericAndLostAnswersSayWhatTheStoreDid() {
        await(real.put("k", new byte[] {1}));
        faulty.failNext(Op.PUT_IF_ABSENT, 1);
        assertThatThrownBy(() -> await(faulty.putIfAbsent("k", new byte[] {2})))
                .isExactlyInstanceOf(StoreException.class).hasMessageStartingWith("injected failure");
        faulty.loseNextAnswers(Op.PUT_IF_ABSENT, 1);
        assertThatThrownBy(() -> await(faulty.putIfAbsent("k", new byte[] {2})))
                .isExactlyInstanceOf(StoreException.class).hasMessageStartingWith("injected lost answer")
                .hasMessageNotContaining("(applied)").hasCauseInstanceOf(PreconditionFailedException.class);
        assertThat(await(real.get("k")).data()).containsExactly(1);
    }

    @Test
    void failsRandomlyOnlyTheOperationsNamed() {
        faulty.failRandomly(1, 7, Op.PUT, Op.PUT_IF_ABSENT);
        assertThatThrownBy(() -> await(faulty.put("a", new byte[1]))).isExactlyInstanceOf(StoreException.class);
        assertThatThrownBy(() -> await(faulty.put("a", parts((byte) 1)))).isExactlyInstanceOf(StoreException.class);
        assertThatThrownBy(() -> await(faulty.putIfAbsent("a", new byte[1]))).isExactlyInstanceOf(StoreException.class);
        String etag = await(real.put("a", new byte[] {1}));
        await(faulty.putIfMatch("a", new byte[] {2}, etag));
        assertThat(await(faulty.get("a")).data()).containsExactly(2);
        assertThat(faulty.injected()).isEqualTo(3);
    }

    @AfterEach
    void close() {
        faulty.close();
    }

    @Test
    void failsTheNextCallsOfAnOperationWithoutApplyingThem() {
        faulty.failNext(Op.PUT, 2);
        assertThatThrownBy(() -> await(faulty.put("k", new byte[1]))).isInstanceOf(StoreException.class)
                .hasMessageStartingWith("injected");
        assertThatThrownBy(() -> await(faulty.put("k", new byte[1]))).isInstanceOf(StoreException.class);
        assertThatThrownBy(() -> await(real.get("k"))).isInstanceOf(ObjectNotFoundException.class);
        await(faulty.put("k", new byte[1]));
        await(faulty.get("k"));
        assertThat(faulty.injected()).isEqualTo(2);
    }

    @Test
    void losesAnswersAfterApplying() {
        faulty.loseNextAnswers(Op.PUT_IF_ABSENT, 1);
        assertThatThrownBy(() -> await(faulty.putIfAbsent("gen", new byte[] {1})))
                .isInstanceOf(StoreException.class).hasMessageContaining("applied");
        assertThat(await(real.get("gen")).data()).containsExactly(1);
        assertThatThrownBy(() -> await(faulty.putIfAbsent("gen", new byte[] {2})))
                .isInstanceOf(PreconditionFailedException.class);
    }

    @Test
    void failsRandomlyAndRepeatably() {
        int[] failures = new int[2];
        for (int run = 0; run < 2; run++) {
            await(real.deleteAll(await(real.listAll("r/")).stream().map(ObjectInfo::key).toList()));
            faulty.failRandomly(0.3, 42);
            for (int i = 0; i < 100; i++) {
                if (faulty.put("r/" + i, new byte[1]).handle((v, e) -> e != null).join()) {
                    failures[run]++;
                    int n = i;
                    assertThatThrownBy(() -> await(real.get("r/" + n))).as("failed before the store")
                            .isInstanceOf(ObjectNotFoundException.class);
                }
            }
        }
        assertThat(failures[0]).isEqualTo(failures[1]).isBetween(15, 45);
        faulty.failRandomly(0, 0);
        await(faulty.put("r/x", new byte[1]));
    }

    @Test
    void hangsUntilResumed() {
        faulty.hang(Op.GET);
        await(faulty.put("k", new byte[] {7}));
        CompletableFuture<StoredObject> get = faulty.get("k");
        assertThat(get).isNotDone();
        assertThat(faulty.hung()).isEqualTo(1);
        faulty.resume();
        assertThat(await(get).data()).containsExactly(7);
    }
}
