package io.ublk.server.cli;

import io.ublk.blockcache.cache.CacheTarget;
import io.ublk.blockcache.cache.VolumeException;
import io.ublk.s3.ObjectStore;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Model.CommandSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.ParameterException;

/**
 * The cached volumes one {@code run} serves, all opened before any device is created, so a volume
 * that cannot be opened as asked (size mismatch, in use, missing) is a bad argument and nothing
 * else happened. Each target is handed to one device, which closes it; {@link #close} closes the
 * ones never handed out.
 */
final class Volumes implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Volumes.class);
    private final List<String> names;
    private final List<CacheTarget> targets;
    private final boolean[] taken;

    private Volumes(List<String> names, List<CacheTarget> targets) {
        this.names = names;
        this.targets = targets;
        this.taken = new boolean[targets.size()];
    }

    /** Opens {@code count} volumes of {@code cache} in {@code store}; size null or 0 opens existing ones. */
    static Volumes open(CacheOptions cache, ObjectStore store, Long size, int count, CommandSpec spec) {
        List<String> names = cache.volumes(count);
        List<CacheTarget> opened = new ArrayList<>();
        try {
            for (String name : names) {
                opened.add(CacheTarget.open(cache.config(name, size == null ? 0 : size), store, cache.openOptions()));
            }
        } catch (VolumeException | IllegalArgumentException e) {
            closeAll(opened);
            throw new ParameterException(spec.commandLine(), e.getMessage());
        } catch (RuntimeException e) {
            closeAll(opened);
            throw e;
        }
        return new Volumes(List.copyOf(names), List.copyOf(opened));
    }

    List<CacheTarget> targets() {
        return targets;
    }

    String name(int i) {
        return names.get(i);
    }

    /** Hands target {@code i} to its device (which closes it from then on). */
    synchronized CacheTarget take(int i) {
        taken[i] = true;
        return targets.get(i);
    }

    @Override
    public synchronized void close() {
        List<CacheTarget> left = new ArrayList<>();
        for (int i = 0; i < targets.size(); i++) {
            if (!taken[i]) {
                left.add(targets.get(i));
            }
        }
        closeAll(left);
    }

    private static void closeAll(List<CacheTarget> targets) {
        for (CacheTarget t : targets) {
            try {
                t.close();
            } catch (RuntimeException e) {
                // Best effort: the error being reported is the one that matters.
                LOG.warn("closing a volume failed: {}", e.toString());
            }
        }
    }
}
