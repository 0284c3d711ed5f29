package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.ublk.s3.S3ObjectStore;
import io.ublk.s3.S3StoreConfig;
import io.ublk.s3.StoreException;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * Host tier: {@link FaultProxy} in front of a small HTTP server (the JDK's), each fault mode on
 * the requests it matches and on no other, and healing restores pass-through; then the real S3
 * client of s3-backend through it to s3proxy (its framing: signed chunked bodies, Expect).
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class FaultProxyTest {
    private HttpServer upstream;
    /** What the upstream received: method, path and body length, one line per request. */
    private final Queue<String> seen = new ConcurrentLinkedQueue<>();
    private FaultProxy proxy;

    @BeforeEach
    void start() throws IOException {
        upstream = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        upstream.createContext("/", this::answer);
        upstream.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
        upstream.start();
        proxy = FaultProxy.start(URI.create("http://127.0.0.1:" + upstream.getAddress().getPort()));
    }

    @AfterEach
    void stop() {
        proxy.close();
        upstream.stop(0);
    }

    /** 200 with {@code METHOD PATH LENGTH}; {@code /chunked/...} answers with a chunked body. */
    private void answer(HttpExchange e) throws IOException {
        byte[] body = e.getRequestBody().readAllBytes();
        String line = e.getRequestMethod() + " " + e.getRequestURI().getPath() + " " + body.length;
        seen.add(line);
        byte[] reply = line.getBytes(StandardCharsets.UTF_8);
        if (e.getRequestMethod().equals("HEAD")) {
            e.sendResponseHeaders(200, -1);
        } else {
            e.sendResponseHeaders(200, e.getRequestURI().getPath().startsWith("/chunked/") ? 0 : reply.length);
            try (OutputStream out = e.getResponseBody()) {
                out.write(reply);
            }
        }
        e.close();
    }

    /** A raw HTTP/1.1 client on one connection to the proxy. */
    private final class Client implements AutoCloseable {
        final Socket socket;
        final InputStream in;
        final OutputStream out;

        Client() throws IOException {
            socket = new Socket(InetAddress.getLoopbackAddress(), proxy.endpoint().getPort());
            socket.setSoTimeout(20_000);
            in = new BufferedInputStream(socket.getInputStream());
            out = socket.getOutputStream();
        }

        void sendHead(String method, String target, String... fields) throws IOException {
            StringBuilder b = new StringBuilder(method + " " + target + " HTTP/1.1\r\nHost: test\r\n");
            for (String f : fields) {
                b.append(f).append("\r\n");
            }
            out.write(b.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
        }

        Response read(String method) throws IOException {
            HttpHead head = HttpHead.read(in);
            assertThat(head).as("an answer, not a closed connection").isNotNull();
            byte[] body = HttpBody.read(in, head, HttpBody.ofResponse(head, method));
            if (head.has("Transfer-Encoding", "chunked")) {
                body = dechunk(body);
            }
            return new Response(head, new String(body, StandardCharsets.UTF_8));
        }

        Response get(String target) throws IOException {
            sendHead("GET", target);
            return read("GET");
        }

        Response put(String target, byte[] body) throws IOException {
            sendHead("PUT", target, "Content-Length: " + body.length);
            out.write(body);
            out.flush();
            return read("PUT");
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    private record Response(HttpHead head, String body) {
        int status() {
            return head.status();
        }
    }

    /** The data of a raw chunked body (the client side of what {@link HttpBody} keeps as it came). */
    private static byte[] dechunk(byte[] raw) throws IOException {
        InputStream in = new java.io.ByteArrayInputStream(raw);
        java.io.ByteArrayOutputStream data = new java.io.ByteArrayOutputStream();
        for (int n = Integer.parseInt(HttpHead.line(in, false).split(";")[0].strip(), 16); n > 0;
                n = Integer.parseInt(HttpHead.line(in, false).split(";")[0].strip(), 16)) {
            data.writeBytes(in.readNBytes(n));
            HttpHead.line(in, false);
        }
        return data.toByteArray();
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 20 s: " + what);
            }
            Thread.sleep(10);
        }
    }

    private static byte[] bytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void passesEveryFramingThroughOnOneKeptConnection() throws Exception {
        try (Client c = new Client()) {
            Response put = c.put("/bucket/vol-a/seg/1", bytes(300_000, 1));
            assertThat(put.status()).isEqualTo(200);
            assertThat(put.body()).isEqualTo("PUT /bucket/vol-a/seg/1 300000");

            // a chunked request body, with a chunk extension (the JDK server takes no trailers)
            c.sendHead("PUT", "/bucket/vol-a/seg/2", "Transfer-Encoding: chunked");
            c.out.write("5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            c.out.flush();
            assertThat(c.read("PUT").body()).isEqualTo("PUT /bucket/vol-a/seg/2 8");

            // a chunked answer, a HEAD's answer (a length but no body), then a plain GET again
            Response chunked = c.get("/chunked/x");
            assertThat(chunked.head().has("Transfer-Encoding", "chunked")).isTrue();
            assertThat(chunked.body()).isEqualTo("GET /chunked/x 0");
            c.sendHead("HEAD", "/bucket/vol-a/volume");
            assertThat(c.read("HEAD").status()).isEqualTo(200);
            assertThat(c.get("/bucket/vol-b/lease").body()).isEqualTo("GET /bucket/vol-b/lease 0");
        }
        assertThat(seen).hasSize(5);
        assertThat(proxy.count(FaultProxy.Outcome.FORWARDED)).isEqualTo(5);
    }

    @Test
    void aChunkedBodyIsReadWithItsTrailersAndKeptAsItCame() throws Exception {
        String raw = "4;name=v\r\nwxyz\r\n0\r\nx-amz-checksum-crc32: AAAAAA==\r\n\r\n";
        InputStream in = new java.io.ByteArrayInputStream((raw + "NEXT").getBytes(StandardCharsets.ISO_8859_1));
        HttpHead head = new HttpHead("PUT /b/k HTTP/1.1", List.of(new HttpHead.Field("Transfer-Encoding", "chunked")));
        assertThat(HttpBody.ofRequest(head)).isEqualTo(HttpBody.Framing.CHUNKED);
        assertThat(new String(HttpBody.read(in, head, HttpBody.Framing.CHUNKED), StandardCharsets.ISO_8859_1))
                .isEqualTo(raw);
        assertThat(new String(in.readAllBytes(), StandardCharsets.ISO_8859_1)).as("the next message's bytes")
                .isEqualTo("NEXT");
        assertThatThrownBy(() -> HttpBody.read(new java.io.ByteArrayInputStream("4\r\nab".getBytes(
                StandardCharsets.ISO_8859_1)), head, HttpBody.Framing.CHUNKED)).isInstanceOf(java.io.EOFException.class);
    }

    @Test
    void expectContinueIsAnsweredBeforeTheBodyIsSent() throws Exception {
        try (Client c = new Client()) {
            c.sendHead("PUT", "/bucket/vol-a/seg/3", "Content-Length: 4", "Expect: 100-continue");
            Response interim = c.read("PUT");
            assertThat(interim.status()).isEqualTo(100);
            c.out.write("data".getBytes(StandardCharsets.ISO_8859_1));
            c.out.flush();
            Response r = c.read("PUT");
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("PUT /bucket/vol-a/seg/3 4");
        }
    }

    @Test
    void aBurstOf503sTakesTheNextNMatchingRequestsOnly() throws Exception {
        proxy.inject(Fault.unavailable("vol-a/", 2));
        try (Client c = new Client()) {
            assertThat(c.get("/bucket/vol-b/seg/1").status()).as("another volume passes").isEqualTo(200);
            for (int i = 0; i < 2; i++) {
                Response r = c.put("/bucket/vol-a/seg/1", bytes(1000, i));
                assertThat(r.status()).isEqualTo(503);
                assertThat(r.body()).contains("<Code>SlowDown</Code>");
            }
            assertThat(c.put("/bucket/vol-a/seg/1", bytes(1000, 3)).status()).as("the burst is over").isEqualTo(200);
        }
        assertThat(seen).containsExactly("GET /bucket/vol-b/seg/1 0", "PUT /bucket/vol-a/seg/1 1000");
        assertThat(proxy.count(FaultProxy.Outcome.UNAVAILABLE)).isEqualTo(2);
    }

    @Test
    void unavailableUntilHealedThenPassesAgain() throws Exception {
        proxy.inject(Fault.unavailable("vol-a/"));
        try (Client c = new Client()) {
            for (int i = 0; i < 5; i++) {
                assertThat(c.get("/bucket/vol-a/man/" + i).status()).isEqualTo(503);
            }
            // a listing names the volume in its query, encoded
            assertThat(c.get("/bucket?list-type=2&prefix=vol-a%2Fman%2F").status()).isEqualTo(503);
            proxy.heal();
            assertThat(c.get("/bucket/vol-a/man/9").status()).isEqualTo(200);
        }
        assertThat(seen).containsExactly("GET /bucket/vol-a/man/9 0");
        assertThat(proxy.count(FaultProxy.Outcome.UNAVAILABLE)).isEqualTo(6);
    }

    @Test
    void aMultiObjectDeleteMatchesByTheKeysInItsBody() throws Exception {
        proxy.inject(Fault.unavailable("vol-a/"));
        byte[] a = "<Delete><Object><Key>vol-a/seg/1</Key></Object></Delete>".getBytes(StandardCharsets.UTF_8);
        byte[] b = "<Delete><Object><Key>vol-b/seg/1</Key></Object></Delete>".getBytes(StandardCharsets.UTF_8);
        try (Client c = new Client()) {
            c.sendHead("POST", "/bucket?delete", "Content-Length: " + a.length);
            c.out.write(a);
            assertThat(c.read("POST").status()).isEqualTo(503);
            c.sendHead("POST", "/bucket?delete", "Content-Length: " + b.length);
            c.out.write(b);
            assertThat(c.read("POST").status()).isEqualTo(200);
        }
    }

    @Test
    void resetEndsTheMatchingRequestsConnectionWithATcpReset() throws Exception {
        proxy.inject(Fault.reset("vol-a/"));
        try (Client c = new Client()) {
            c.sendHead("GET", "/bucket/vol-a/lease");
            assertThatThrownBy(() -> c.in.read()).isInstanceOf(SocketException.class).hasMessageContaining("reset");
        }
        try (Client c = new Client()) {
            assertThat(c.get("/bucket/vol-b/lease").status()).isEqualTo(200);
            proxy.heal();
            assertThat(c.get("/bucket/vol-a/lease").status()).isEqualTo(200);
        }
        assertThat(seen).containsExactly("GET /bucket/vol-b/lease 0", "GET /bucket/vol-a/lease 0");
        assertThat(proxy.count(FaultProxy.Outcome.RESET)).isEqualTo(1);
    }

    @Test
    void delayForwardsTheMatchingRequestsThatMuchLater() throws Exception {
        Duration delay = Duration.ofMillis(700);
        proxy.inject(Fault.delay("vol-a/", delay));
        try (Client c = new Client()) {
            long t0 = System.nanoTime();
            assertThat(c.get("/bucket/vol-a/seg/1").status()).isEqualTo(200);
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(delay);
            assertThat(c.get("/bucket/vol-b/seg/1").status()).isEqualTo(200);
            assertThat(proxy.count(FaultProxy.Outcome.DELAYED)).as("only the matching request waited").isEqualTo(1);
            proxy.heal();
            assertThat(c.get("/bucket/vol-a/seg/2").status()).isEqualTo(200);
        }
        assertThat(proxy.count(FaultProxy.Outcome.DELAYED)).isEqualTo(1);
        assertThat(proxy.count(FaultProxy.Outcome.FORWARDED)).isEqualTo(3);
    }

    @Test
    void aBlackholeHoldsTheMatchingRequestsUntilHealedThenForwardsThem() throws Exception {
        proxy.inject(Fault.blackhole("vol-a/", Fault.OnHeal.FORWARD));
        try (Client held = new Client(); Client other = new Client()) {
            held.sendHead("PUT", "/bucket/vol-a/man/1", "Content-Length: 3");
            held.out.write("abc".getBytes(StandardCharsets.ISO_8859_1));
            held.out.flush();
            await("the proxy holds the request", () -> proxy.holding() == 1);
            assertThat(other.get("/bucket/vol-b/man/1").status()).as("another volume passes meanwhile").isEqualTo(200);
            held.socket.setSoTimeout(300);
            assertThatThrownBy(() -> held.in.read()).as("no answer while held").isInstanceOf(SocketTimeoutException.class);
            assertThat(seen).containsExactly("GET /bucket/vol-b/man/1 0");

            proxy.heal();
            held.socket.setSoTimeout(20_000);
            Response r = held.read("PUT");
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("PUT /bucket/vol-a/man/1 3");
            assertThat(held.get("/bucket/vol-a/man/2").status()).as("healed: passes at once").isEqualTo(200);
        }
        assertThat(proxy.count(FaultProxy.Outcome.HELD)).isEqualTo(1);
        assertThat(proxy.holding()).isZero();
    }

    @Test
    void aBlackholeThatResetsOnHealNeverDeliversWhatItHeld() throws Exception {
        proxy.inject(Fault.blackhole("vol-a/", Fault.OnHeal.RESET));
        try (Client held = new Client()) {
            held.sendHead("GET", "/bucket/vol-a/seg/7");
            await("the proxy holds the request", () -> proxy.holding() == 1);
            proxy.heal();
            assertThatThrownBy(() -> held.in.read()).isInstanceOf(SocketException.class).hasMessageContaining("reset");
        }
        try (Client c = new Client()) {
            assertThat(c.get("/bucket/vol-a/seg/8").status()).isEqualTo(200);
        }
        assertThat(seen).containsExactly("GET /bucket/vol-a/seg/8 0");
        assertThat(proxy.count(FaultProxy.Outcome.RESET)).isEqualTo(1);
    }

    @Test
    void aStoreConnectionClosedWhileIdleIsReplacedUnseen() throws Exception {
        // A store that answers one request per connection and then closes it, as at an idle timeout.
        try (ServerSocket store = new ServerSocket(0, 4, InetAddress.getLoopbackAddress())) {
            CountDownLatch firstClosed = new CountDownLatch(1);
            Thread t = Thread.ofPlatform().daemon().start(() -> {
                for (int i = 0; i < 2; i++) {
                    try (Socket s = store.accept()) {
                        HttpHead.read(new BufferedInputStream(s.getInputStream()));
                        s.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                                .getBytes(StandardCharsets.ISO_8859_1));
                    } catch (IOException e) {
                        return;
                    }
                    firstClosed.countDown();
                }
            });
            try (FaultProxy p = FaultProxy.start(URI.create("http://127.0.0.1:" + store.getLocalPort()));
                    Socket s = new Socket(InetAddress.getLoopbackAddress(), p.endpoint().getPort())) {
                s.setSoTimeout(20_000);
                InputStream in = new BufferedInputStream(s.getInputStream());
                for (int i = 0; i < 2; i++) {
                    s.getOutputStream().write(("GET /bucket/k" + i + " HTTP/1.1\r\nHost: x\r\n\r\n")
                            .getBytes(StandardCharsets.ISO_8859_1));
                    HttpHead h = HttpHead.read(in);
                    assertThat(h.status()).as("request %d on the client's one connection", i).isEqualTo(200);
                    assertThat(new String(HttpBody.read(in, h, HttpBody.Framing.LENGTH), StandardCharsets.UTF_8))
                            .isEqualTo("ok");
                    assertThat(firstClosed.await(20, TimeUnit.SECONDS)).isTrue();
                }
                assertThat(p.count(FaultProxy.Outcome.FORWARDED)).isEqualTo(2);
            }
            t.join(20_000);
        }
    }

    /** The store client of s3-backend, through the proxy to s3proxy: its requests pass, its retries ride out a burst. */
    @Test
    void theS3ClientWorksThroughTheProxyAndRetriesThroughABurst(@TempDir Path dir) throws Exception {
        try (S3ProxyProcess s3 = S3ProxyProcess.start(dir, "volumes", Duration.ofMinutes(1));
                FaultProxy p = FaultProxy.start(s3.endpoint());
                S3ObjectStore store = new S3ObjectStore(S3StoreConfig.defaults("volumes").withEndpoint(p.endpoint())
                        .withRetries(3, Duration.ofMillis(10), Duration.ofMillis(50)),
                        StaticCredentialsProvider.create(AwsBasicCredentials.create(S3ProxyProcess.IDENTITY,
                                S3ProxyProcess.CREDENTIAL)))) {
            byte[] seg = bytes(3 << 20, 7);
            store.put("vol-a/seg/1", seg).join();
            store.put("vol-a/seg/2", List.of(ByteBuffer.wrap(seg, 0, 1000), ByteBuffer.wrap(seg, 1000, 5000))).join();
            assertThat(store.get("vol-a/seg/1").join().data()).isEqualTo(seg);
            assertThat(store.getRange("vol-a/seg/2", 500, 1000).join()).isEqualTo(java.util.Arrays.copyOfRange(seg, 500, 1500));
            String etag = store.putIfAbsent("vol-a/lease", bytes(100, 1)).join();
            store.putIfMatch("vol-a/lease", bytes(100, 2), etag).join();
            assertThat(store.list("vol-a/", null, 100).join().objects()).hasSize(3);
            long forwarded = p.count(FaultProxy.Outcome.FORWARDED);
            assertThat(forwarded).isGreaterThanOrEqualTo(7);

            p.inject(Fault.unavailable("vol-a/", 2));
            store.put("vol-a/seg/3", seg).join();
            assertThat(p.count(FaultProxy.Outcome.UNAVAILABLE)).as("the burst took two attempts").isEqualTo(2);

            p.inject(Fault.reset("vol-a/"));
            assertThatThrownBy(() -> store.get("vol-a/seg/1").join()).isInstanceOf(CompletionException.class)
                    .hasCauseInstanceOf(StoreException.class);
            assertThat(p.count(FaultProxy.Outcome.RESET)).as("every attempt reset").isEqualTo(3);
            store.put("vol-b/seg/1", seg).join(); // another volume's requests pass meanwhile
            p.heal();
            assertThat(store.get("vol-a/seg/3").join().data()).isEqualTo(seg);
            store.deleteAll(List.of("vol-a/seg/1", "vol-a/seg/2", "vol-a/seg/3", "vol-b/seg/1")).join();
            assertThat(store.list("vol-", null, 100).join().objects()).extracting(o -> o.key()).containsExactly("vol-a/lease");
        }
    }
}
