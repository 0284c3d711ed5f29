package io.ublk.server.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ublk.blockcache.cache.CacheStats;
import io.ublk.server.daemon.Daemon;
import io.ublk.server.daemon.DaemonException;
import io.ublk.server.daemon.DaemonException.Code;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The admin commands, each a checked request turned into one daemon call. A request with a field
 * its command does not know is refused (BAD_ARGUMENT), so a typo never silently changes nothing.
 */
public final class AdminApi {
    private final Daemon daemon;
    private final java.util.function.Supplier<Map<String, Object>> reload;

    /** {@code reload} reads the config file again and applies it (daemon.reload, as SIGHUP does). */
    public AdminApi(Daemon daemon, java.util.function.Supplier<Map<String, Object>> reload) {
        this.daemon = daemon;
        this.reload = reload;
    }

    /** The commands and the fields each takes (beyond v and op). */
    static final Map<String, Set<String>> COMMANDS = Map.of(
            "device.add", Set.of("args", "cwd", "count"),
            "device.del", Set.of("device", "force"),
            "device.list", Set.of(),
            "device.show", Set.of("device"),
            "volume.drain", Set.of("device", "dropClean"),
            "daemon.status", Set.of(),
            "daemon.stop", Set.of("keepDevices", "force"),
            "daemon.reload", Set.of());

    /** Carries out one request; progress lines go to {@code progress}. */
    Object handle(ObjectNode req, Consumer<String> progress) throws InterruptedException {
        String op = text(req, "op", true);
        Set<String> fields = COMMANDS.get(op);
        if (fields == null) {
            throw new DaemonException(Code.UNKNOWN_COMMAND, "unknown command '" + op + "' (known: "
                    + String.join(", ", new java.util.TreeSet<>(COMMANDS.keySet())) + ")");
        }
        for (var it = req.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!f.equals("v") && !f.equals("op") && !fields.contains(f)) {
                throw new DaemonException(Code.BAD_ARGUMENT, op + " takes no field '" + f + "'");
            }
        }
        return switch (op) {
            case "device.add" -> {
                JsonNode a = req.get("args");
                if (a == null || !a.isArray()) {
                    throw new DaemonException(Code.BAD_ARGUMENT, "device.add needs args: an array of target options");
                }
                List<String> args = new ArrayList<>();
                for (JsonNode n : a) {
                    if (!n.isTextual()) {
                        throw new DaemonException(Code.BAD_ARGUMENT, "device.add args must all be strings");
                    }
                    args.add(n.asText());
                }
                String cwd = text(req, "cwd", false);
                Path dir = Path.of(cwd == null ? "/" : cwd);
                if (!dir.isAbsolute()) {
                    throw new DaemonException(Code.BAD_ARGUMENT, "cwd must be an absolute path: '" + cwd + "'");
                }
                int count = integer(req, "count", 1);
                List<Map<String, Object>> out = new ArrayList<>();
                for (var e : daemon.add(args, dir, count, progress)) {
                    out.add(daemon.show(Integer.toString(e.id())));
                }
                yield Map.of("devices", out);
            }
            case "device.del" -> {
                String dev = text(req, "device", true);
                daemon.delete(dev, bool(req, "force"));
                yield Map.of("deleted", dev);
            }
            case "device.list" -> Map.of("devices", daemon.list());
            case "device.show" -> daemon.show(text(req, "device", true));
            case "volume.drain" -> {
                CacheStats s = daemon.drain(text(req, "device", true), bool(req, "dropClean"), progress);
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("committedGeneration", s.committedGeneration());
                m.put("dirtyBytes", s.dirtyBytes());
                m.put("uploadedBytes", s.uploadedBytes());
                yield m;
            }
            case "daemon.status" -> daemon.status();
            case "daemon.stop" -> {
                boolean keep = bool(req, "keepDevices");
                if (keep) {
                    daemon.requestStop(true);
                } else {
                    daemon.requestStopDeleting(bool(req, "force"));
                }
                yield Map.of("stopping", true, "keepDevices", keep);
            }
            case "daemon.reload" -> reload.get();
            default -> throw new IllegalStateException(op);
        };
    }

    private static String text(ObjectNode req, String field, boolean required) {
        JsonNode n = req.get(field);
        if (n == null || n.isNull()) {
            if (required) {
                throw new DaemonException(Code.BAD_ARGUMENT, "missing field '" + field + "'");
            }
            return null;
        }
        if (!n.isTextual()) {
            throw new DaemonException(Code.BAD_ARGUMENT, "field '" + field + "' must be a string");
        }
        return n.asText();
    }

    private static boolean bool(ObjectNode req, String field) {
        JsonNode n = req.get(field);
        if (n == null || n.isNull()) {
            return false;
        }
        if (!n.isBoolean()) {
            throw new DaemonException(Code.BAD_ARGUMENT, "field '" + field + "' must be true or false");
        }
        return n.asBoolean();
    }

    private static int integer(ObjectNode req, String field, int dflt) {
        JsonNode n = req.get(field);
        if (n == null || n.isNull()) {
            return dflt;
        }
        if (!n.canConvertToInt() || !n.isIntegralNumber()) {
            throw new DaemonException(Code.BAD_ARGUMENT, "field '" + field + "' must be an integer");
        }
        return n.asInt();
    }
}
