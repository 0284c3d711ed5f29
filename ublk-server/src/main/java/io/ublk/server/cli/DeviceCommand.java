package io.ublk.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Unmatched;

/** {@code ublk-server device add|del|list|show}: clients of the daemon's admin socket. */
@Command(name = "device", mixinStandardHelpOptions = true, description = "Add, delete, list and show the daemon's devices.",
        subcommands = {DeviceCommand.Add.class, DeviceCommand.Del.class, DeviceCommand.ListDevices.class,
                DeviceCommand.Show.class})
final class DeviceCommand implements Runnable {
    @Spec CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "device needs a command: add, del, list or show");
    }

    @Command(name = "add", mixinStandardHelpOptions = true,
            description = "Add a device to the running daemon; prints its /dev/ublkbN. Takes the target options of run "
                    + "(--target memory|null|cache, --size, --queues, --depth, the cache and store options), and --name.")
    static final class Add implements Callable<Integer> {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;

        @Option(names = "--count", defaultValue = "1", description = "Devices to add (volumes or names NAME-0..NAME-(N-1)). Default: ${DEFAULT-VALUE}.")
        int count;

        @Unmatched List<String> targetArgs = new ArrayList<>();

        @Override
        public Integer call() {
            // checked here first, so a typo is told without a round trip; the daemon checks again
            try {
                TargetArgs.parse(targetArgs, Path.of("").toAbsolutePath());
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), e.getMessage());
            }
            ObjectNode req = client.client().request("device.add");
            ArrayNode a = req.putArray("args");
            targetArgs.forEach(a::add);
            req.put("cwd", Path.of("").toAbsolutePath().toString());
            req.put("count", count);
            return client.answer(spec, req, (out, r) -> r.get("devices").forEach(d -> out.println(d.get("path").asText())));
        }
    }

    @Command(name = "del", mixinStandardHelpOptions = true,
            description = "Stop and delete a device (refused while it is mounted or open, unless --force).")
    static final class Del implements Callable<Integer> {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;

        @Parameters(paramLabel = "DEVICE", description = "Id N, /dev/ublkbN, or the volume or --name of the device.")
        String device;

        @Option(names = "--force", description = "Delete even while mounted or open: its users get I/O errors.")
        boolean force;

        @Override
        public Integer call() {
            ObjectNode req = client.client().request("device.del");
            req.put("device", device);
            req.put("force", force);
            return client.answer(spec, req, (out, r) -> out.println("deleted " + device));
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List the daemon's devices (and kernel ublk devices it has no record of).")
    static final class ListDevices implements Callable<Integer> {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;

        @Override
        public Integer call() {
            return client.answer(spec, client.client().request("device.list"), r -> r.get("devices"),
                    (out, r) -> printTable(out, r.get("devices")));
        }
    }

    /** One line per device under a header. */
    static void printTable(PrintWriter out, JsonNode devices) {
        out.printf("%-5s %-14s %-10s %-7s %-24s %s%n", "ID", "PATH", "STATE", "TARGET", "VOLUME/NAME", "SIZE");
        for (JsonNode d : devices) {
            String name = d.has("volume") ? d.get("volume").asText() : d.path("name").asText("-");
            out.printf("%-5s %-14s %-10s %-7s %-24s %s%s%n", d.get("id").asText(), d.get("path").asText(),
                    d.get("state").asText(), d.path("target").asText("-"), name,
                    d.has("size") ? bytes(d.get("size").asLong()) : "-",
                    d.has("reason") ? "  (" + d.get("reason").asText() + ")" : "");
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one device: state, queues and workers, volume figures.")
    static final class Show implements Callable<Integer> {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;

        @Parameters(paramLabel = "DEVICE", description = "Id N, /dev/ublkbN, or the volume or --name of the device.")
        String device;

        @Override
        public Integer call() {
            ObjectNode req = client.client().request("device.show");
            req.put("device", device);
            return client.answer(spec, req, DeviceCommand::printFields);
        }
    }

    /** {@code key: value} lines of a JSON object, nested values as JSON. */
    static void printFields(PrintWriter out, JsonNode r) {
        for (Iterator<Map.Entry<String, JsonNode>> it = r.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            JsonNode v = f.getValue();
            out.printf("%-20s %s%n", f.getKey() + ":", v.isValueNode() ? v.asText() : v.toString());
        }
        out.flush();
    }

    static String bytes(long n) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        int u = 0;
        double v = n;
        while (v >= 1024 && u < units.length - 1 && v % 1024 == 0) {
            v /= 1024;
            u++;
        }
        return (long) v + units[u];
    }
}
