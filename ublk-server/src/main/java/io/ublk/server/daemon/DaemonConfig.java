package io.ublk.server.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The daemon's optional config file (TOML): default target options, given to every device that
 * does not set them itself (the store, the cache folder, budgets), and the devices the host should
 * serve. Keys are the long options of {@code device add} without the dashes.
 * <pre>
 * [defaults]
 * store = "local"
 * store-dir = "/srv/ublk/store"
 * cache-dir = "/var/cache/ublk-server"
 * clean-cache = "256MiB"
 *
 * [[device]]
 * target = "cache"
 * volume = "db1"
 * size = "100GiB"
 * </pre>
 * Read at start and on SIGHUP or {@code daemon reload}; a file that does not check out changes
 * nothing and says why.
 */
public record DaemonConfig(Map<String, String> defaults, List<List<String>> devices) {
    public static final DaemonConfig EMPTY = new DaemonConfig(Map.of(), List.of());
    private static final Set<String> TOP = Set.of("defaults", "device");

    public DaemonConfig {
        defaults = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(defaults)); // in file order
        devices = List.copyOf(devices);
    }

    /**
     * Reads and shapes the file; the options themselves are checked when devices are opened from
     * them.
     *
     * @throws IllegalArgumentException naming the file and what is wrong with it
     */
    public static DaemonConfig read(Path file) {
        JsonNode root;
        try {
            root = new TomlMapper().readTree(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new IllegalArgumentException("config " + file + ": " + firstLine(e.getMessage()));
        }
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!TOP.contains(k)) {
                throw new IllegalArgumentException("config " + file + ": unknown table or key '" + k
                        + "' (known: [defaults], [[device]])");
            }
        }
        Map<String, String> defaults = new LinkedHashMap<>();
        JsonNode d = root.get("defaults");
        if (d != null) {
            if (!d.isObject()) {
                throw new IllegalArgumentException("config " + file + ": [defaults] must be a table");
            }
            for (var e : d.properties()) {
                defaults.put(e.getKey(), scalar(file, "[defaults] " + e.getKey(), e.getValue()));
            }
        }
        List<List<String>> devices = new ArrayList<>();
        JsonNode list = root.get("device");
        if (list != null) {
            if (!list.isArray()) {
                throw new IllegalArgumentException("config " + file + ": devices are [[device]] tables");
            }
            int i = 0;
            for (JsonNode dev : list) {
                List<String> args = new ArrayList<>();
                for (var e : dev.properties()) {
                    add(args, e.getKey(), scalar(file, "[[device]] #" + (i + 1) + " " + e.getKey(), e.getValue()));
                }
                devices.add(args);
                i++;
            }
        }
        return new DaemonConfig(defaults, devices);
    }

    /** {@code args} with every default it does not set itself. */
    public List<String> withDefaults(List<String> args) {
        List<String> out = new ArrayList<>(args);
        for (var e : defaults.entrySet()) {
            if (!args.contains("--" + e.getKey())) {
                add(out, e.getKey(), e.getValue());
            }
        }
        return out;
    }

    private static void add(List<String> args, String key, String value) {
        if (value.equals("true")) {
            args.add("--" + key);
        } else if (!value.equals("false")) {
            args.add("--" + key);
            args.add(value);
        }
    }

    private static String scalar(Path file, String where, JsonNode v) {
        if (v.isTextual() || v.isNumber() || v.isBoolean()) {
            return v.asText();
        }
        throw new IllegalArgumentException("config " + file + ": " + where + " must be a string, number or boolean");
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "unreadable";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
