package io.ublk.headers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.lang.invoke.VarHandle;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.math.BigInteger;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestReporter;

/**
 * The proof of the hand-written bindings: compiles every {@code src/test/c/*.c} probe against the
 * kernel uapi headers (6.12; the probes in {@code src/test/c/7.2/} against the 7.2 headers, for
 * bindings later kernels added), runs it, and checks each printed {@code Key value} line against the Java
 * classes of {@code io.ublk.headers}; then checks that every integral constant and every var
 * handle of those classes was probed. Missing gcc or headers fail the test (never skip).
 *
 * <p>Keys (see probe.h): {@code Class.FIELD} (integral field), {@code Class.HANDLE.bytes} (width of
 * a var handle's value), {@code Class.method(a, b)} (a static method on integer arguments). A C
 * value matches a Java value of width w when it fits in w bits (signed or unsigned) and has the same
 * w-bit pattern, so {@code 0xC0207504} matches an {@code int}.
 */
class LayoutProbeTest {
    private static final String PACKAGE = "io.ublk.headers";
    private static final Pattern FIELD_KEY = Pattern.compile("(\\w+)\\.(\\w+)");
    private static final Pattern HANDLE_KEY = Pattern.compile("(\\w+)\\.(\\w+)\\.bytes");
    private static final Pattern METHOD_KEY = Pattern.compile("(\\w+)\\.(\\w+)\\(([^)]*)\\)");
    private static final long PROCESS_TIMEOUT_SECONDS = 60;

    /** Probe output of this JVM: computed once, by the first test that needs it. */
    private static Map<String, BigInteger> probed;

    @Test
    void everyProbedKeyMatchesJava(TestReporter reporter) {
        Map<String, BigInteger> keys = probe();
        List<String> mismatches = new ArrayList<>();
        keys.forEach((key, c) -> {
            String problem = check(key, c);
            if (problem != null) {
                mismatches.add(key + " " + c + ": " + problem);
            }
        });
        reporter.publishEntry("probe keys checked", String.valueOf(keys.size()));
        assertThat(mismatches).as("probe keys whose Java binding differs from C").isEmpty();
    }

    @Test
    void everyIntegralConstantAndVarHandleIsProbed() {
        Map<String, BigInteger> keys = probe();
        List<String> unprobed = new ArrayList<>();
        for (Class<?> type : bindingClasses()) {
            for (Field field : type.getDeclaredFields()) {
                int m = field.getModifiers();
                if (!Modifier.isPublic(m) || !Modifier.isStatic(m) || !Modifier.isFinal(m)) {
                    continue;
                }
                String name = type.getSimpleName() + "." + field.getName();
                if (bits(field.getType()) > 0 && !keys.containsKey(name)) {
                    unprobed.add(name);
                }
                if (field.getType() == VarHandle.class && !keys.containsKey(name + ".bytes")) {
                    unprobed.add(name + ".bytes");
                }
            }
        }
        assertThat(unprobed).as("bindings no probe checks (add them to a src/test/c/probe_*.c)").isEmpty();
    }

    @Test
    void scanFindsTheBindingClasses() {
        assertThat(bindingClasses()).contains(Libc.class, Errno.class, UblkParams.class, UblkUserCopy.class)
                .doesNotContain(LayoutProbeTest.class);
    }

    /** Returns null when the Java side matches, else what is wrong. */
    private static String check(String key, BigInteger c) {
        Matcher m;
        try {
            if ((m = HANDLE_KEY.matcher(key)).matches()) {
                Object handle = staticField(m.group(1), m.group(2), VarHandle.class);
                Class<?> carrier = ((VarHandle) handle).varType();
                int bytes = carrier == java.lang.foreign.MemorySegment.class ? 8 : bits(carrier) / 8;
                return BigInteger.valueOf(bytes).equals(c) ? null : "Java var handle reads " + carrier + " (" + bytes + " bytes)";
            }
            if ((m = FIELD_KEY.matcher(key)).matches()) {
                Field field = Class.forName(PACKAGE + "." + m.group(1)).getField(m.group(2));
                int bits = bits(field.getType());
                if (bits == 0 || !Modifier.isStatic(field.getModifiers())) {
                    return "not a static integral field";
                }
                long java = ((Number) field.get(null)).longValue();
                return sameBits(java, bits, c) ? null
                        : "Java has " + java + " (" + field.getType() + ", " + String.format("%#x", java) + ")";
            }
            if ((m = METHOD_KEY.matcher(key)).matches()) {
                return checkMethod(m.group(1), m.group(2), m.group(3), c);
            }
            return "malformed key";
        } catch (ReflectiveOperationException | RuntimeException e) {
            return "no such Java binding (" + e + ")";
        }
    }

    private static String checkMethod(String className, String name, String argText, BigInteger c)
            throws ReflectiveOperationException {
        String[] args = argText.isBlank() ? new String[0] : argText.split(",");
        List<Method> candidates = Arrays.stream(Class.forName(PACKAGE + "." + className).getMethods())
                .filter(x -> x.getName().equals(name) && x.getParameterCount() == args.length
                        && Modifier.isStatic(x.getModifiers()))
                .toList();
        if (candidates.size() != 1) {
            return candidates.size() + " static methods " + name + " with " + args.length + " parameters";
        }
        Method method = candidates.get(0);
        Object[] values = new Object[args.length];
        for (int i = 0; i < args.length; i++) {
            Class<?> p = method.getParameterTypes()[i];
            BigInteger arg = new BigInteger(String.valueOf(Long.decode(args[i].strip())));
            if (!fits(arg, bits(p))) {
                return "argument " + args[i].strip() + " does not fit " + p;
            }
            long v = arg.longValue();
            values[i] = p == int.class ? (Object) (int) v : p == long.class ? (Object) v
                    : p == short.class ? (Object) (short) v : (Object) (byte) v;
        }
        int bits = bits(method.getReturnType());
        if (bits == 0) {
            return "returns " + method.getReturnType() + ", not an integral type";
        }
        try {
            long java = ((Number) method.invoke(null, values)).longValue();
            return sameBits(java, bits, c) ? null : "Java returns " + java + String.format(" (%#x)", java);
        } catch (InvocationTargetException e) {
            return "Java throws " + e.getCause();
        }
    }

    private static Object staticField(String className, String name, Class<?> type) throws ReflectiveOperationException {
        Field field = Class.forName(PACKAGE + "." + className).getField(name);
        if (field.getType() != type || !Modifier.isStatic(field.getModifiers())) {
            throw new NoSuchFieldException(className + "." + name + " is not a static " + type.getSimpleName());
        }
        return field.get(null);
    }

    /** Width in bits of an integral primitive type, 0 for anything else. */
    private static int bits(Class<?> type) {
        if (type == byte.class) return 8;
        if (type == short.class) return 16;
        if (type == int.class) return 32;
        if (type == long.class) return 64;
        return 0;
    }

    private static boolean fits(BigInteger c, int bits) {
        return c.compareTo(BigInteger.ONE.shiftLeft(bits - 1).negate()) >= 0
                && c.compareTo(BigInteger.ONE.shiftLeft(bits)) < 0;
    }

    private static boolean sameBits(long java, int bits, BigInteger c) {
        BigInteger modulus = BigInteger.ONE.shiftLeft(bits);
        return fits(c, bits) && c.mod(modulus).equals(BigInteger.valueOf(java).mod(modulus));
    }

    /** Every top-level class compiled into {@code io.ublk.headers} (the main classes folder). */
    private static List<Class<?>> bindingClasses() {
        Path dir;
        try {
            dir = Path.of(Libc.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                    .resolve(PACKAGE.replace('.', '/'));
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        if (!Files.isDirectory(dir)) {
            fail("main classes are not a folder (" + dir + "): run the test from Maven on the module");
        }
        try (Stream<Path> files = Files.list(dir)) {
            List<Class<?>> classes = new ArrayList<>();
            for (Path file : files.sorted().toList()) {
                String name = file.getFileName().toString();
                if (name.endsWith(".class") && !name.contains("$") && !name.equals("package-info.class")) {
                    classes.add(Class.forName(PACKAGE + "." + name.substring(0, name.length() - ".class".length())));
                }
            }
            return classes;
        } catch (IOException | ClassNotFoundException e) {
            throw new IllegalStateException("cannot list the classes in " + dir, e);
        }
    }

    private static synchronized Map<String, BigInteger> probe() {
        if (probed == null) {
            probed = runProbes();
        }
        return probed;
    }

    /**
     * One set of probe programs and the uapi headers they compile against: the {@code *.c} files of
     * {@code src/test/c} against the default headers ({@code .cache/uapi}, 6.12), those of a
     * subfolder {@code src/test/c/<set>} against {@code .cache/uapi-<set>} (7.2: bits later kernels
     * added, absent from 6.12's header). {@code -Dublk.uapi.include} / {@code -Dublk.uapi.<set>.include}
     * name other include dirs.
     */
    private record ProbeSet(String name, Path include, List<Path> programs) {}

    private static List<ProbeSet> probeSets(Path sources) {
        String root = System.getProperty("ublk.root");
        List<ProbeSet> sets = new ArrayList<>();
        List<Path> dirs = new ArrayList<>();
        dirs.add(sources);
        try (Stream<Path> files = Files.list(sources)) {
            files.filter(Files::isDirectory).sorted().forEach(dirs::add);
        } catch (IOException e) {
            throw new IllegalStateException("cannot list probe sources in " + sources, e);
        }
        for (Path dir : dirs) {
            String set = dir.equals(sources) ? "" : dir.getFileName().toString();
            String property = set.isEmpty() ? "ublk.uapi.include" : "ublk.uapi." + set + ".include";
            String cache = set.isEmpty() ? "uapi" : "uapi-" + set;
            String defaultInclude = root == null ? null : Path.of(root, ".cache", cache, "usr", "include").toString();
            String includeProperty = System.getProperty(property, defaultInclude);
            if (includeProperty == null) {
                fail("neither " + property + " nor ublk.root is set: run through Maven (scripts/mvn)");
            }
            List<Path> programs;
            try (Stream<Path> files = Files.list(dir)) {
                programs = files.filter(p -> p.getFileName().toString().endsWith(".c")).sorted().toList();
            } catch (IOException e) {
                throw new IllegalStateException("cannot list probe sources in " + dir, e);
            }
            if (programs.isEmpty()) {
                fail("no probe sources (*.c) in " + dir);
            }
            Path include = Path.of(includeProperty);
            if (!Files.isRegularFile(include.resolve("linux/ublk_cmd.h"))) {
                fail("no kernel uapi headers" + (set.isEmpty() ? "" : " (" + set + ")") + " at " + include
                        + ": run scripts/setup-uapi");
            }
            sets.add(new ProbeSet(set, include, programs));
        }
        return sets;
    }

    private static Map<String, BigInteger> runProbes() {
        Path gcc = onPath("gcc");
        if (gcc == null) {
            fail("gcc not found on PATH: install it (apt-get install gcc)");
        }
        Path sources = Path.of(System.getProperty("basedir", System.getProperty("user.dir")), "src", "test", "c");
        Path out = buildDir().resolve("probes");
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new IllegalStateException("cannot create " + out, e);
        }
        Map<String, BigInteger> keys = new TreeMap<>();
        Map<String, String> origin = new TreeMap<>();
        List<String> problems = new ArrayList<>();
        for (ProbeSet set : probeSets(sources)) {
            for (Path source : set.programs()) {
                String name = (set.name().isEmpty() ? "" : set.name() + "/") + source.getFileName();
                String base = source.getFileName().toString();
                Path binary = out.resolve((set.name().isEmpty() ? "" : set.name() + "-") + base.substring(0, base.length() - 2));
                run(List.of(gcc.toString(), "-O0", "-Wall", "-Werror", "-I" + sources, "-I" + set.include(),
                        "-I" + set.include().resolve("x86_64-linux-gnu"), "-o", binary.toString(), source.toString()),
                        "compile " + name + " against " + set.include());
                String output = run(List.of(binary.toString()), "run " + name);
                for (String line : output.split("\n")) {
                    if (line.isBlank()) {
                        continue;
                    }
                    int space = line.lastIndexOf(' ');
                    BigInteger value;
                    try {
                        value = new BigInteger(line.substring(space + 1));
                    } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
                        problems.add(name + ": malformed line '" + line + "'");
                        continue;
                    }
                    String key = line.substring(0, Math.max(space, 0));
                    if (keys.putIfAbsent(key, value) != null) {
                        problems.add("duplicate key " + key + " (" + origin.get(key) + " and " + name + ")");
                    }
                    origin.putIfAbsent(key, name);
                }
            }
        }
        assertThat(problems).as("probe output problems").isEmpty();
        return keys;
    }

    private static String run(List<String> command, String what) {
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            byte[] output = process.getInputStream().readAllBytes();
            if (!process.waitFor(PROCESS_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                fail(what + ": timed out");
            }
            String text = new String(output, StandardCharsets.UTF_8);
            if (process.exitValue() != 0) {
                fail(what + " failed (exit " + process.exitValue() + "): " + String.join(" ", command) + "\n" + text);
            }
            return text;
        } catch (IOException e) {
            throw new IllegalStateException(what + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(what + ": interrupted", e);
        }
    }

    /** The module's build folder: the parent of the test classes folder. */
    private static Path buildDir() {
        try {
            return Path.of(LayoutProbeTest.class.getProtectionDomain().getCodeSource().getLocation().toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Path onPath(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, program))) {
                return Path.of(dir, program);
            }
        }
        return null;
    }
}
