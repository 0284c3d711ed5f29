package io.ublk.server.daemon;

import java.util.List;

/**
 * What one device serves, as the operator asked for it: the target options of {@code run}
 * ({@code --target cache --volume v1 --store-dir /srv/store ...}), checked and with every path
 * absolute, plus what the daemon reads from them. The options are the record a restarted daemon
 * opens the target from again, so they hold no one-time choices ({@code --takeover}) and no secret
 * (credentials come from the environment, never from options).
 *
 * @param args the target options, canonical: what {@link TargetOpener#parse} accepts again
 * @param recordArgs {@code args} without the one-time choices: what the device's record keeps
 * @param target memory, null or cache
 * @param identity what two devices of one daemon must not share (a cache folder and volume, or a
 *     {@code --name}); null for an unnamed memory or null device
 * @param name the volume of a cache target, or {@code --name}; may be null
 * @param sizeBytes the device size, or 0 for a cache volume that exists already (its size is read at open)
 * @param queues hardware queues
 * @param depth tags per queue
 */
public record DeviceSpec(List<String> args, List<String> recordArgs, String target, String identity, String name,
        long sizeBytes, int queues, int depth) {
    public DeviceSpec {
        args = List.copyOf(args);
        recordArgs = List.copyOf(recordArgs);
    }
}
