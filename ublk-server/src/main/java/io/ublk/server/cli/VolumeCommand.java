package io.ublk.server.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ublk-server volume drain}: a client of the daemon's admin socket. */
@Command(name = "volume", mixinStandardHelpOptions = true, description = "Operate on the cached volume of a daemon's device.",
        subcommands = {VolumeCommand.Drain.class})
final class VolumeCommand implements Runnable {
    @Spec CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "volume needs a command: drain");
    }

    @Command(name = "drain", mixinStandardHelpOptions = true,
            description = "Upload every acknowledged write of a served cache device's volume to the store (progress on stderr).")
    static final class Drain implements Callable<Integer> {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;

        @Parameters(paramLabel = "DEVICE", description = "Id N, /dev/ublkbN, or the volume name.")
        String device;

        @Option(names = "--drop-clean", description = "Then forget the clean cache, so reads come from the store (a cold-read check).")
        boolean dropClean;

        @Override
        public Integer call() {
            ObjectNode req = client.client().request("volume.drain");
            req.put("device", device);
            req.put("dropClean", dropClean);
            return client.answer(spec, req, (out, r) -> out.printf("drained %s: generation %d, %d dirty bytes left%s%n",
                    device, r.get("committedGeneration").asLong(), r.get("dirtyBytes").asLong(),
                    dropClean ? ", clean cache dropped" : ""));
        }
    }
}
