package io.ublk.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.blockcache.cache.CacheConfig;
import io.ublk.blockcache.cache.CacheTarget;
import io.ublk.s3.LocalObjectStore;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cache target's arguments on the host (no S3, no ublk): every bad or inconsistent combination
 * is one line on stderr, exit code 2, and leaves no folder behind.
 */
class CacheArgumentsTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    @TempDir
    Path dir;

    private int run(String... args) {
        return Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
    }

    /** Runs, expects exit 2 with one line that contains {@code message}, and nothing created under dir. */
    private void refused(String message, String... args) throws IOException {
        int code = run(args);
        assertThat(code).as("exit code of %s; stderr %s", List.of(args), err).isEqualTo(2);
        assertThat(err.toString().lines()).as("stderr").hasSize(1).first().asString().startsWith("ublk-server: ")
                .contains(message);
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).as("created under %s", dir)
                    .allMatch(n -> n.startsWith("existing"));
        }
        err.getBuffer().setLength(0);
    }

    private String[] cacheRun(String... more) {
        List<String> a = new ArrayList<>(List.of("run", "--target", "cache", "--volume", "v1",
                "--cache-dir", dir.resolve("cache").toString()));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    private String local() {
        return dir.resolve("store").toString();
    }

    @Test
    void cacheAndStoreOptionsBelongToTheCacheTarget() throws IOException {
        refused("--cache-dir, --volume, --max-dirty apply to --target cache only", "run", "--target", "memory",
                "--size", "1GiB", "--cache-dir", dir.resolve("c").toString(), "--volume", "v", "--max-dirty", "1GiB");
        refused("--store, --bucket apply to --target cache only", "run", "--target", "null", "--size", "1GiB",
                "--store", "s3", "--bucket", "bkt");
        refused("--upload-delay apply to --target cache only", "run", "--size", "1GiB", "--upload-delay", "1s");
    }

    @Test
    void sizeIsRequiredForMemoryAndNullOnly() throws IOException {
        refused("--size is required with --target memory", "run", "--target", "memory");
        refused("--size is required with --target null", "run", "--target", "null");
        refused("--target must be memory, null or cache: 'disk'", "run", "--target", "disk", "--size", "1GiB");
    }

    @Test
    void budgetsTheHeapCannotHoldAreRefusedBeforeAnythingIsOpened() throws IOException {
        // three volumes whose clean caches alone ask for 1.5 heaps of this JVM
        long half = Runtime.getRuntime().maxMemory() / 2 / (1 << 20);
        refused("the cache budgets need", cacheRun("--store", "local", "--store-dir", local(), "--size", "64MiB",
                "--count", "3", "--clean-cache", half + "MiB"));
        run(cacheRun("--store", "local", "--store-dir", local(), "--size", "64MiB", "--count", "3", "--clean-cache",
                half + "MiB"));
        assertThat(err.toString()).contains("lower those options or raise the heap (UBLK_JAVA_OPTS=-Xmx");
    }

    @Test
    void theStoreMustBeComplete() throws IOException {
        refused("--store s3 needs --bucket", cacheRun("--store", "s3"));
        refused("--store s3 needs --bucket", cacheRun("--store", "s3", "--endpoint", "http://127.0.0.1:9000"));
        refused("--store local needs --store-dir", cacheRun("--store", "local"));
        refused("--store local needs --store-dir", cacheRun());
        refused("--store must be local or s3: 'gcs'", cacheRun("--store", "gcs"));
        refused("--store-dir needs --store local", cacheRun("--store", "s3", "--bucket", "bkt1", "--store-dir", local()));
        refused("--bucket, --path-style need --store s3", cacheRun("--store-dir", local(), "--bucket", "bkt1",
                "--path-style"));
        refused("--bucket must be an S3 bucket name", cacheRun("--store", "s3", "--bucket", "Bad/Bucket"));
        refused("--endpoint must be an http:// or https:// URL", cacheRun("--store", "s3", "--bucket", "bkt1",
                "--endpoint", "ftp://x"));
    }

    /** Refused like {@link #refused}, and nothing of {@code secret} on stdout or stderr. */
    private void refusedWithoutEchoing(String secret, String message, String endpoint) throws IOException {
        String[] args = cacheRun("--store", "s3", "--bucket", "bkt1", "--endpoint", endpoint);
        int code = run(args);
        String said = out + "" + err;
        assertThat(said).as("output for %s", endpoint).doesNotContain(secret);
        err.getBuffer().setLength(0);
        assertThat(code).as("exit code for %s", endpoint).isEqualTo(2);
        refused(message, args);
    }

    /** Credentials belong in the environment or an AWS profile: an endpoint carrying some is refused unprinted. */
    @Test
    void anEndpointWithCredentialsIsRefusedWithoutPrintingThem() throws IOException {
        refusedWithoutEchoing("s3cr3t", "--endpoint must not carry credentials ('http://***@127.0.0.1:9000')",
                "http://AKIA:s3cr3t@127.0.0.1:9000");
        refusedWithoutEchoing("AKIA", "AWS_ACCESS_KEY_ID", "http://AKIA:s3cr3t@127.0.0.1:9000");
        refusedWithoutEchoing("s3cr3t", "--endpoint must not have a query", "http://127.0.0.1:9000/?X-Amz-Signature=s3cr3t");
        refusedWithoutEchoing("s3cr3t", "--endpoint must be an http:// or https:// URL", "ftp://AKIA:s3cr3t@x");
        refusedWithoutEchoing("s3 cr3t", "--endpoint': not a URL", "http://AKIA:s3 cr3t@127.0.0.1:9000");
    }

    @Test
    void theCacheMustBeComplete() throws IOException {
        refused("--volume is required with a cache target", "run", "--target", "cache", "--store-dir", local(),
                "--cache-dir", dir.resolve("cache").toString());
        refused("--cache-dir is required with a cache target", "run", "--target", "cache", "--store-dir", local(),
                "--volume", "v1");
        refused("volume name must be 1-128 of [A-Za-z0-9._-]: 'a/b'", "run", "--target", "cache", "--store-dir",
                local(), "--cache-dir", dir.resolve("cache").toString(), "--volume", "a/b");
        refused("max dirty bytes must be at least 4 blocks", cacheRun("--store-dir", local(), "--size", "64MiB",
                "--max-dirty", "256KiB"));
        refused("block size must be a power of two", cacheRun("--store-dir", local(), "--size", "64MiB",
                "--block-size", "96KiB"));
        refused("segment bytes must be in [block size, 1GiB]", cacheRun("--store-dir", local(), "--size", "64MiB",
                "--segment-size", "4KiB"));
        refused("volume size must be a multiple of 4096", cacheRun("--store-dir", local(), "--size", "1000"));
        refused("duration must be positive", cacheRun("--store-dir", local(), "--upload-delay", "0s"));
        refused("duration must look like 500ms, 10s or 2m: '-1s'", cacheRun("--store-dir", local(), "--io-timeout", "-1s"));
        refused("--store-dir does not exist", cacheRun("--store-dir", local()));
    }

    @Test
    void foldersMustBeUsableAndAreNotCreatedWhenRefused() throws IOException {
        Path file = Files.writeString(dir.resolve("existing-file"), "x");
        refused("--cache-dir is not a folder: " + file, "run", "--target", "cache", "--volume", "v1",
                "--store-dir", local(), "--size", "64MiB", "--cache-dir", file.toString());
        refused("--store-dir is not a folder: " + file, cacheRun("--store-dir", file.toString(), "--size", "64MiB"));
        refused("--cache-dir cannot be created", "run", "--target", "cache", "--volume", "v1", "--store-dir",
                local(), "--size", "64MiB", "--cache-dir", file.resolve("below-a-file").toString());
    }

    @Test
    void drainChecksTheSameOptions() throws IOException {
        refused("--store s3 needs --bucket", "drain", "--volume", "v1", "--cache-dir",
                dir.resolve("cache").toString(), "--store", "s3");
        refused("--volume is required", "drain", "--cache-dir", dir.resolve("cache").toString(), "--store-dir",
                local());
        refused("--store local needs --store-dir", "drain", "--volume", "v1", "--cache-dir",
                dir.resolve("cache").toString());
    }

    /** Creates volume {@code name} of {@code size} in the local store under {@code existing-store}. */
    private Path volume(String name, long size) {
        Path store = dir.resolve("existing-store");
        try (LocalObjectStore objects = new LocalObjectStore(store);
                CacheTarget t = CacheTarget.open(CacheConfig.of(dir.resolve("existing-cache"), name, size), objects)) {
            assertThat(t.size()).isEqualTo(size);
        }
        return store;
    }

    @Test
    void aVolumeThatCannotBeOpenedAsAskedIsABadArgument() throws IOException {
        Path store = volume("v1", 64L << 20);
        String cacheDir = dir.resolve("existing-cache").toString();
        // Volumes open before any device is made, so this holds on a host without ublk too.
        refused("is 67108864 bytes, not 134217728", "run", "--target", "cache", "--volume", "v1", "--cache-dir", cacheDir, "--store-dir",
                store.toString(), "--size", "128MiB");
        refused("does not exist", "drain", "--volume", "nope", "--cache-dir", cacheDir, "--store-dir",
                store.toString());
        refused("does not exist", "run", "--target", "cache", "--volume", "v1", "--count", "2", "--cache-dir",
                cacheDir, "--store-dir", store.toString());
        try (LocalObjectStore objects = new LocalObjectStore(store);
                CacheTarget held = CacheTarget.open(CacheConfig.of(Path.of(cacheDir), "v1", 0), objects)) {
            refused("v1", "drain", "--volume", "v1", "--cache-dir", cacheDir, "--store-dir", store.toString());
        }
    }

    @Test
    void drainUploadsAndSaysWhat() {
        Path store = volume("v1", 64L << 20);
        assertThat(run("drain", "--volume", "v1", "--cache-dir", dir.resolve("existing-cache").toString(),
                "--store-dir", store.toString())).as("stderr: %s", err).isZero();
        assertThat(out.toString().lines()).hasSize(1).first().asString().startsWith("drained v1 to ")
                .contains("generation");
    }

    @Test
    void deleteNeedsIdsOrStale() throws IOException {
        refused("give --id N (repeatable) or --stale, not both", "delete");
        refused("give --id N (repeatable) or --stale, not both", "delete", "--id", "3", "--stale");
    }

    @Test
    void countNamesOneVolumePerDevice() {
        CacheOptions c = new CacheOptions();
        c.volume = "vol";
        assertThat(c.volumes(1)).containsExactly("vol");
        assertThat(c.volumes(3)).containsExactly("vol-0", "vol-1", "vol-2");
    }

    @Test
    void unsetTuningTakesTheCacheDefaults() {
        CacheOptions c = new CacheOptions();
        c.cacheDir = dir;
        c.volume = "v";
        c.maxDirty = 64L << 20;
        var config = c.config("v", 0);
        assertThat(config.maxDirtyBytes()).isEqualTo(64L << 20);
        assertThat(config.blockSize()).isEqualTo(128 * 1024);
        assertThat(config.cleanCacheBytes()).isEqualTo(256L << 20);
        assertThat(config.uploadDelay()).hasSeconds(2);
    }
}
