package io.ublk.server.daemon;

import io.ublk.blockcache.BlockTarget;
import io.ublk.blockcache.cache.CacheTarget;
import java.util.List;

/**
 * Turns a device's target options into a checked {@link DeviceSpec}, and a spec into an open
 * target. The daemon knows targets only through this (the CLI's option parsing implements it), so
 * a device added over the socket and one recovered from its record are opened the same way.
 */
public interface TargetOpener {
    /**
     * Checks the target options; relative paths are resolved against {@code cwd} (the client's).
     *
     * @throws IllegalArgumentException naming the option and the rule broken
     */
    DeviceSpec parse(List<String> args, java.nio.file.Path cwd);

    /**
     * Opens the target a spec names (a cache volume: its store, lease and journal).
     *
     * @throws IllegalArgumentException or {@link io.ublk.blockcache.cache.VolumeException}: the volume cannot be
     *     opened as asked (size mismatch, missing, leased elsewhere); nothing changed
     */
    Opened open(DeviceSpec spec);

    /**
     * An open target; {@code cache} is the same target when it is a cached volume (drain, stats),
     * else null. {@code release} runs once the device that served it closed it (shared store clients).
     */
    record Opened(BlockTarget target, CacheTarget cache, String volume, Runnable release) {}
}
