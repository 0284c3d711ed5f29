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

    @Override
    public Integer call() throws Exception {
        try {
            store.validate();
            cache.validate();
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        long t0 = System.nanoTime();
        try (ObjectStore objects = store.open()) {
            CacheTarget target;
            try {
                target = CacheTarget.open(cache.config(cache.volume, 0), objects);
            } catch (VolumeException | IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), e.getMessage());
            }
            try (target) {
                target.drain();
                CacheStats s = target.stats();
                PrintWriter out = spec.commandLine().getOut();
                out.printf(Locale.ROOT, "drained %s to %s: %d bytes in %d segment(s), %d upload round(s), "
                        + "generation %d (%.1f s)%n", cache.volume, objects.describe(), s.uploadedBytes(),
                        s.segmentPuts(), s.uploadRounds(), s.committedGeneration(), (System.nanoTime() - t0) / 1e9);
                out.flush();
            }
        }
        return 0;
    }
}
