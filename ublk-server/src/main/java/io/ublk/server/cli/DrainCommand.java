package io.ublk.server.cli;

import io.ublk.blockcache.cache.CacheStats;
import io.ublk.blockcache.cache.CacheTarget;
import io.ublk.blockcache.cache.VolumeException;
import io.ublk.s3.ObjectStore;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code ublk-server drain}: uploads everything this host's cache of a volume holds that the store
 * does not (after a crash, or before wiping the cache folder), then exits. The volume must not be
 * served at the time (its server holds the cache folder).
 */
@Command(name = "drain", mixinStandardHelpOptions = true,
        description = "Upload every write a volume's cache folder holds, then exit (the volume must not be served).")
final class DrainCommand implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin CacheOptions cache;
    @Mixin StoreOptions store;

    @Option(names = "--count", defaultValue = "1", description = "Volumes to drain, named as run --count names them. Default: ${DEFAULT-VALUE}.")
    int count;

    @Override
    public Integer call() throws Exception {
        try {
            if (count < 1) {
                throw new IllegalArgumentException("--count must be >= 1: " + count);
            }
            cache.validate();
            store.validate(true);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        PrintWriter out = spec.commandLine().getOut();
        try (ObjectStore objects = store.open()) {
            for (String volume : cache.volumes(count)) {
                drain(volume, objects, out);
            }
        }
        return 0;
    }

    private void drain(String volume, ObjectStore objects, PrintWriter out) throws InterruptedException {
        long t0 = System.nanoTime();
        CacheTarget target;
        try {
            target = CacheTarget.open(cache.config(volume, 0), objects, cache.openOptions());
        } catch (VolumeException | IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        try (target) {
            target.drain();
            CacheStats s = target.stats();
            out.printf(Locale.ROOT, "drained %s to %s: %d bytes in %d segment(s), %d upload round(s), "
                    + "generation %d (%.1f s)%n", volume, objects.describe(), s.uploadedBytes(), s.segmentPuts(),
                    s.uploadRounds(), s.committedGeneration(), (System.nanoTime() - t0) / 1e9);
            out.flush();
        }
    }
}
