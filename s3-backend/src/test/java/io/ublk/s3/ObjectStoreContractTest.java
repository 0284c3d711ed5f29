package io.ublk.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What every {@link ObjectStore} promises, run against each implementation. Each test gets a
 * fresh, empty store.
 */
abstract class ObjectStoreContractTest {
    /** Above the S3 tests' multipart threshold (6 MiB, 5 MiB parts): three parts. */
    static final int LARGE = (12 << 20) + 3;

    protected ObjectStore store;

    protected abstract ObjectStore newStore() throws Exception;

    @BeforeEach
    void openStore() throws Exception {
        store = newStore();
    }

    @AfterEach
    void closeStore() {
        store.close();
    }

    static <T> T await(CompletableFuture<T> future) {
        try {
            return future.get(60, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new AssertionError(e.getCause());
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    static byte[] bytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private void roundTrip(byte[] data) {
        String etag = await(store.put("obj", data));
        StoredObject got = await(store.get("obj"));
        assertThat(got.data()).isEqualTo(data);
        assertThat(got.etag()).isEqualTo(etag);
    }

    @Test
    void emptyObjectRoundTrips() {
        roundTrip(new byte[0]);
    }

    @Test
    void oneByteRoundTrips() {
        roundTrip(new byte[] {42});
    }

    @Test
    void fiveMibRoundTrips() {
        roundTrip(bytes(5 << 20, 1));
    }

    @Test
    void largeObjectRoundTrips() {
        roundTrip(bytes(LARGE, 2));
    }

    @Test
    void putReplacesAndChangesTheEtag() {
        String first = await(store.put("k", bytes(100, 1)));
        String second = await(store.put("k", bytes(100, 2)));
        assertThat(second).isNotEqualTo(first);
        assertThat(await(store.get("k")).data()).isEqualTo(bytes(100, 2));
        assertThat(await(store.put("k", bytes(100, 1)))).isEqualTo(first);
    }

    @Test
    void aPutOfPartsStoresTheirConcatenationAndMovesNone() throws Exception {
        byte[] all = bytes(3 << 20, 17);
        // a heap part that starts past its array's start, an empty one, a direct one, a mapped file's slice
        java.nio.ByteBuffer heap = java.nio.ByteBuffer.wrap(all, 0, 100_000).position(1);
        java.nio.ByteBuffer empty = java.nio.ByteBuffer.allocate(0);
        java.nio.ByteBuffer direct = java.nio.ByteBuffer.allocateDirect(1 << 20).put(all, 100_000, 1 << 20).flip();
        int mappedAt = 100_000 + (1 << 20);
        java.nio.file.Path f = java.nio.file.Files.createTempFile("parts", ".bin");
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofShared();
                java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(f,
                        java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(all));
            java.nio.ByteBuffer mapped = ch.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, 0, all.length, arena)
                    .asSlice(mappedAt, all.length - mappedAt).asByteBuffer();
            List<java.nio.ByteBuffer> parts = List.of(heap, empty, direct, mapped);
            String etag = await(store.put("parts", parts));
            byte[] expected = java.util.Arrays.copyOfRange(all, 1, all.length);
            assertThat(await(store.get("parts")).data()).isEqualTo(expected);
            assertThat(etag).isEqualTo(java.util.HexFormat.of().formatHex(
                    java.security.MessageDigest.getInstance("MD5").digest(expected)));
            assertThat(heap.position()).isOne();
            assertThat(direct.position()).isZero();
            assertThat(mapped.position()).isZero();
        } finally {
            java.nio.file.Files.delete(f);
        }
    }

    @Test
    void etagIsTheMd5OfASinglePutLikeS3() {
        assertThat(await(store.put("k", "abc".getBytes()))).isEqualTo("900150983cd24fb0d6963f7d28e17f72");
    }

    @Test
    void rangedReadsAtStartMiddleAndEnd() {
        byte[] data = bytes(1000, 3);
        await(store.put("r", data));
        assertThat(await(store.getRange("r", 0, 10))).isEqualTo(slice(data, 0, 10));
        assertThat(await(store.getRange("r", 500, 100))).isEqualTo(slice(data, 500, 100));
        assertThat(await(store.getRange("r", 990, 10))).isEqualTo(slice(data, 990, 10));
        assertThat(await(store.getRange("r", 0, 1000))).isEqualTo(data);
    }

    @Test
    void rangedReadPastTheEndIsShort() {
        byte[] data = bytes(1000, 3);
        await(store.put("r", data));
        assertThat(await(store.getRange("r", 995, 100))).isEqualTo(slice(data, 995, 5));
    }

    @Test
    void rangedReadAtOrBeyondTheEndFails() {
        await(store.put("r", bytes(1000, 3)));
        assertThatThrownBy(() -> await(store.getRange("r", 1000, 1)))
                .isInstanceOf(StoreException.class).isNotInstanceOf(ObjectNotFoundException.class);
        assertThatThrownBy(() -> await(store.getRange("r", 5000, 10)))
                .isInstanceOf(StoreException.class).isNotInstanceOf(ObjectNotFoundException.class);
    }

    @Test
    void rangedReadOfALargeObject() {
        byte[] data = bytes(LARGE, 4);
        await(store.put("big", data));
        assertThat(await(store.getRange("big", (5 << 20) - 7, 20))).isEqualTo(slice(data, (5 << 20) - 7, 20));
    }

    @Test
    void missingObjectIsNotFound() {
        assertThatThrownBy(() -> await(store.get("nope"))).isInstanceOf(ObjectNotFoundException.class);
        assertThatThrownBy(() -> await(store.getRange("nope", 0, 1))).isInstanceOf(ObjectNotFoundException.class);
    }

    @Test
    void putIfAbsentOnlyOnce() {
        String etag = await(store.putIfAbsent("gen/1", bytes(10, 1)));
        assertThatThrownBy(() -> await(store.putIfAbsent("gen/1", bytes(10, 2))))
                .isInstanceOf(PreconditionFailedException.class);
        StoredObject got = await(store.get("gen/1"));
        assertThat(got.data()).isEqualTo(bytes(10, 1));
        assertThat(got.etag()).isEqualTo(etag);
    }

    @Test
    void putIfAbsentOfALargeObjectOnlyOnce() {
        await(store.putIfAbsent("big", bytes(LARGE, 1)));
        assertThatThrownBy(() -> await(store.putIfAbsent("big", bytes(LARGE, 2))))
                .isInstanceOf(PreconditionFailedException.class);
        assertThat(await(store.get("big")).data()).isEqualTo(bytes(LARGE, 1));
    }

    @Test
    void putIfAbsentOverAPlainPutFails() {
        await(store.put("k", bytes(10, 1)));
        assertThatThrownBy(() -> await(store.putIfAbsent("k", bytes(10, 2))))
                .isInstanceOf(PreconditionFailedException.class);
    }

    @Test
    void racingPutIfAbsentHasExactlyOneWinner() throws Exception {
        int writers = 8;
        for (int round = 0; round < 5; round++) {
            String key = "race/" + round;
            CountDownLatch go = new CountDownLatch(1);
            ExecutorService pool = Executors.newFixedThreadPool(writers);
            List<Future<String>> results = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                byte[] mine = bytes(1000, w);
                results.add(pool.submit(() -> {
                    go.await();
                    return await(store.putIfAbsent(key, mine));
                }));
            }
            go.countDown();
            int winner = -1;
            int losers = 0;
            for (int w = 0; w < writers; w++) {
                try {
                    results.get(w).get(60, TimeUnit.SECONDS);
                    assertThat(winner).as("a second winner").isEqualTo(-1);
                    winner = w;
                } catch (ExecutionException e) {
                    assertThat(e.getCause()).isInstanceOf(PreconditionFailedException.class);
                    losers++;
                }
            }
            pool.shutdown();
            assertThat(losers).isEqualTo(writers - 1);
            assertThat(await(store.get(key)).data()).isEqualTo(bytes(1000, winner));
        }
    }

    @Test
    void putIfMatchWithTheCurrentEtagReplaces() {
        String etag = await(store.put("m", bytes(10, 1)));
        String next = await(store.putIfMatch("m", bytes(10, 2), etag));
        StoredObject got = await(store.get("m"));
        assertThat(got.data()).isEqualTo(bytes(10, 2));
        assertThat(got.etag()).isEqualTo(next).isNotEqualTo(etag);
    }

    @Test
    void putIfMatchWithAStaleEtagFails() {
        String stale = await(store.put("m", bytes(10, 1)));
        await(store.put("m", bytes(10, 2)));
        assertThatThrownBy(() -> await(store.putIfMatch("m", bytes(10, 3), stale)))
                .isInstanceOf(PreconditionFailedException.class);
        assertThat(await(store.get("m")).data()).isEqualTo(bytes(10, 2));
    }

    @Test
    void putIfMatchWithAWrongEtagFails() {
        await(store.put("m", bytes(10, 1)));
        assertThatThrownBy(() -> await(store.putIfMatch("m", bytes(10, 3), "0123456789abcdef0123456789abcdef")))
                .isInstanceOf(PreconditionFailedException.class);
        assertThat(await(store.get("m")).data()).isEqualTo(bytes(10, 1));
    }

    @Test
    void putIfMatchOnAMissingObjectFails() {
        assertThatThrownBy(() -> await(store.putIfMatch("m", bytes(10, 3), "0123456789abcdef0123456789abcdef")))
                .isInstanceOf(PreconditionFailedException.class);
        assertThatThrownBy(() -> await(store.get("m"))).isInstanceOf(ObjectNotFoundException.class);
    }

    @Test
    void putIfMatchOfALargeObject() {
        String etag = await(store.put("big", bytes(LARGE, 1)));
        String next = await(store.putIfMatch("big", bytes(LARGE, 2), etag));
        assertThat(await(store.get("big")).etag()).isEqualTo(next);
        assertThatThrownBy(() -> await(store.putIfMatch("big", bytes(LARGE, 3), etag)))
                .isInstanceOf(PreconditionFailedException.class);
        assertThat(await(store.get("big")).data()).isEqualTo(bytes(LARGE, 2));
    }

    @Test
    void deleteRemovesAndMissingIsFine() {
        await(store.put("d", bytes(10, 1)));
        await(store.delete("d"));
        assertThatThrownBy(() -> await(store.get("d"))).isInstanceOf(ObjectNotFoundException.class);
        await(store.delete("d"));
        await(store.delete("never/was"));
    }

    @Test
    void deleteAllRemovesTheGivenKeysOnly() {
        for (int i = 0; i < 5; i++) {
            await(store.put("d/" + i, bytes(10, i)));
        }
        await(store.deleteAll(List.of("d/0", "d/2", "d/4", "d/missing", "other/missing")));
        assertThat(keys(await(store.listAll("d/")))).containsExactly("d/1", "d/3");
        await(store.deleteAll(List.of()));
    }

    @Test
    void listPaginatesInOrderWithinThePrefix() {
        List<CompletableFuture<String>> puts = new ArrayList<>();
        for (int i = 24; i >= 0; i--) {
            puts.add(store.put(String.format("p/k%02d", i), bytes(i, i)));
        }
        for (String other : List.of("o/k00", "q/k00", "p-k00", "p0", "pp/k00")) {
            puts.add(store.put(other, bytes(3, 0)));
        }
        puts.forEach(ObjectStoreContractTest::await);

        ListPage first = await(store.list("p/", null, 10));
        ListPage second = await(store.list("p/", first.next(), 10));
        ListPage third = await(store.list("p/", second.next(), 10));
        assertThat(first.objects()).hasSize(10);
        assertThat(first.next()).isNotNull();
        assertThat(second.objects()).hasSize(10);
        assertThat(second.next()).isNotNull();
        assertThat(third.objects()).hasSize(5);
        assertThat(third.next()).isNull();
        List<String> all = new ArrayList<>();
        for (ListPage page : List.of(first, second, third)) {
            all.addAll(keys(page.objects()));
        }
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            expected.add(String.format("p/k%02d", i));
        }
        assertThat(all).isEqualTo(expected);
        assertThat(keys(await(store.listAll("p/")))).isEqualTo(expected);
    }

    @Test
    void listGivesSizesAndEtags() {
        String etag = await(store.put("s/one", bytes(123, 1)));
        await(store.put("s/empty", new byte[0]));
        List<ObjectInfo> listed = await(store.listAll("s/"));
        assertThat(listed).containsExactly(
                new ObjectInfo("s/empty", 0, "d41d8cd98f00b204e9800998ecf8427e"),
                new ObjectInfo("s/one", 123, etag));
    }

    @Test
    void listPrefixNeedNotEndAtASlash() {
        for (String k : List.of("a/1", "a/2", "ab/1", "b/1", "a")) {
            await(store.put(k.equals("a") ? "ax" : k, bytes(1, 0)));
        }
        assertThat(keys(await(store.listAll("a/")))).containsExactly("a/1", "a/2");
        assertThat(keys(await(store.listAll("a")))).containsExactly("a/1", "a/2", "ab/1", "ax");
        assertThat(keys(await(store.listAll("")))).containsExactly("a/1", "a/2", "ab/1", "ax", "b/1");
        assertThat(keys(await(store.listAll("zz")))).isEmpty();
    }

    @Test
    void nestedKeysRoundTripAndList() {
        await(store.put("v/1/chunks/00/ab", bytes(5, 1)));
        await(store.put("v/1/chunks/01/cd", bytes(5, 2)));
        await(store.put("v/1/manifest", bytes(5, 3)));
        assertThat(await(store.get("v/1/chunks/01/cd")).data()).isEqualTo(bytes(5, 2));
        assertThat(keys(await(store.listAll("v/1/")))).containsExactly("v/1/chunks/00/ab", "v/1/chunks/01/cd", "v/1/manifest");
        assertThat(keys(await(store.listAll("v/1/chunks/0")))).containsExactly("v/1/chunks/00/ab", "v/1/chunks/01/cd");
    }

    /** Keys beyond ASCII; UTF-16 order would put the emoji (0xD83D 0xDE00) before U+FF21. */
    static final List<String> NON_ASCII_KEYS = List.of("u/a", "u/b", "u/\u00e9", "u/\uff21", "u/\ud83d\ude00");

    @Test
    void listIsInUtf8BinaryOrder() {
        for (String k : NON_ASCII_KEYS.reversed()) {
            await(store.put(k, bytes(1, 0)));
        }
        assertThat(keys(await(store.listAll("u/")))).isEqualTo(NON_ASCII_KEYS);
    }

    static List<String> keys(List<ObjectInfo> infos) {
        return infos.stream().map(ObjectInfo::key).toList();
    }

    static byte[] slice(byte[] data, int from, int length) {
        byte[] out = new byte[length];
        System.arraycopy(data, from, out, 0, length);
        return out;
    }
}
