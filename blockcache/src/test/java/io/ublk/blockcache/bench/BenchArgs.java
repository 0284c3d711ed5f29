package io.ublk.blockcache.bench;

import java.util.LinkedHashMap;
import java.util.Map;

/** The benchmarks' command lines: {@code --name value} pairs, some of them required. */
final class BenchArgs {
    private BenchArgs() {}

    static Map<String, String> parse(String[] argv, String... required) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < argv.length; i++) {
            if (!argv[i].startsWith("--") || i + 1 >= argv.length) {
                throw new IllegalArgumentException("expected --name value pairs, got: " + argv[i]);
            }
            m.put(argv[i].substring(2), argv[++i]);
        }
        for (String name : required) {
            if (!m.containsKey(name)) {
                throw new IllegalArgumentException("--" + name + " is required");
            }
        }
        return m;
    }
}
