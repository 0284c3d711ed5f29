package io.ublk.server.e2e;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real S3 server for the VM tests: s3proxy ({@code org.gaul.s3proxy.Main}, from the test
 * classpath) as its own JVM, over jclouds' {@code filesystem} backend in a scratch folder, bound to
 * 127.0.0.1 only (the guest has loopback and nothing else; keep it that way), SigV4 (or V2) with a
 * fixed identity. {@link #start} returns once it answers HTTP; the bucket is a folder of the
 * backend, made before the start. {@link #close} kills it.
 */
final class S3ProxyProcess implements AutoCloseable {
    static final String IDENTITY = "ublk-test";
    static final String CREDENTIAL = "ublk-test-secret";

    private final Process process;
    private final int port;
    private final String bucket;
    private final Path dir;

    private S3ProxyProcess(Process process, int port, String bucket, Path dir) {
        this.process = process;
        this.port = port;
        this.bucket = bucket;
        this.dir = dir;
    }

    /** Starts s3proxy with its data in {@code dir/data} and an empty {@code bucket}; waits until it answers. */
    static S3ProxyProcess start(Path dir, String bucket, Duration readyTimeout) {
        try {
            Path data = Files.createDirectories(dir.resolve("data"));
            // jclouds' filesystem backend: a bucket is a folder of the base folder, public-read when
            // others may read it; private, so that every request must be signed.
            Files.createDirectories(data.resolve(bucket),
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            int port = freePort();
            Path props = dir.resolve("s3proxy.properties");
            Files.writeString(props, String.join("\n",
                    "s3proxy.endpoint=http://127.0.0.1:" + port,
                    "s3proxy.authorization=aws-v2-or-v4",
                    "s3proxy.identity=" + IDENTITY,
                    "s3proxy.credential=" + CREDENTIAL,
                    // Segments are single PUTs of up to --segment-size; the default cap is 32 MiB.
                    "s3proxy.v4-max-non-chunked-request-size=" + (256L << 20),
                    "jclouds.provider=filesystem",
                    "jclouds.identity=" + IDENTITY,
                    "jclouds.credential=" + CREDENTIAL,
                    "jclouds.filesystem.basedir=" + data,
                    ""));
            List<String> cmd = new ArrayList<>(List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    // A small, quick-starting JVM: under the VM's emulation every JIT tier costs seconds.
                    "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                    "-cp", testClassPath(), "org.gaul.s3proxy.Main", "--properties", props.toString()));
            long t0 = System.nanoTime();
            Process p = new ProcessBuilder(cmd).directory(dir.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .redirectOutput(dir.resolve("s3proxy.out").toFile())
                    .redirectError(dir.resolve("s3proxy.err").toFile()).start();
            S3ProxyProcess s3 = new S3ProxyProcess(p, port, bucket, dir);
            try {
                s3.awaitAnswer(t0 + readyTimeout.toNanos());
            } catch (RuntimeException | Error e) {
                s3.close();
                throw e;
            }
            System.err.printf("[e2e] s3proxy pid %d on 127.0.0.1:%d ready in %.1f s%n", p.pid(), port,
                    (System.nanoTime() - t0) / 1e9);
            return s3;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start s3proxy in " + dir, e);
        }
    }

    /**
     * Surefire and Failsafe put the whole test classpath here; {@code java.class.path} may be only
     * their booter jar (whose manifest lists the same, so it also works as a fallback).
     */
    private static String testClassPath() {
        String cp = System.getProperty("surefire.test.class.path");
        return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** Any HTTP answer (an anonymous GET gets 403) means it serves. */
    private void awaitAnswer(long deadlineNanos) {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        HttpRequest get = HttpRequest.newBuilder(endpoint()).timeout(Duration.ofSeconds(20)).GET().build();
        while (true) {
            if (!process.isAlive()) {
                fail("s3proxy exited with " + process.exitValue() + " before it answered: " + describe());
            }
            try {
                client.send(get, HttpResponse.BodyHandlers.discarding());
                return;
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for s3proxy", e);
            }
            if (System.nanoTime() > deadlineNanos) {
                fail("s3proxy did not answer on " + endpoint() + " in time: " + describe());
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for s3proxy", e);
            }
        }
    }

    URI endpoint() {
        return URI.create("http://127.0.0.1:" + port);
    }

    String bucket() {
        return bucket;
    }

    /** Where the bucket's objects are (one file per key), to count or check them. */
    Path bucketDir() {
        return dir.resolve("data").resolve(bucket);
    }

    /** The server options that select this store. */
    List<String> storeArgs() {
        return storeArgs(endpoint());
    }

    /** The server options that select this store's bucket reached at {@code via} (a proxy in front of it). */
    List<String> storeArgs(URI via) {
        return List.of("--store", "s3", "--endpoint", via.toString(), "--path-style", "--bucket", bucket);
    }

    /** Credentials for the AWS SDK's default chain (environment), and no instance-metadata lookups. */
    static Map<String, String> env() {
        return Map.of("AWS_ACCESS_KEY_ID", IDENTITY, "AWS_SECRET_ACCESS_KEY", CREDENTIAL,
                "AWS_EC2_METADATA_DISABLED", "true");
    }

    String describe() {
        return "s3proxy on " + endpoint() + " (pid " + process.pid() + ")\n--- s3proxy stderr tail ---\n"
                + Cmd.tail(Cmd.read(dir.resolve("s3proxy.err")), 3000) + "\n--- stdout tail ---\n"
                + Cmd.tail(Cmd.read(dir.resolve("s3proxy.out")), 2000);
    }

    @Override
    public void close() {
        process.destroyForcibly();
        try {
            process.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
