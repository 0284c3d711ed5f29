package io.ublk.server.e2e;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Runs real fio with {@code --output-format=json --verify_state_save=0 --disk_util=0} in a writable working
 * directory, and asserts: exit code 0, every job's {@code error} is 0, and no verify failure on
 * stderr. The per-job byte and I/O counts are returned for further checks.
 */
final class Fio {
    /** fio's messages for data that did not verify (verify.c), and its generic job error line. */
    private static final Pattern VERIFY_FAILURE = Pattern.compile(
            "(?i)verify: bad|verify failed|bad magic|bad header|fio: pid=\\d+, err=|io_u error");

    /** One job's totals (the read side includes the verify reads); {@code runtimeMs} is fio's {@code job_runtime}. */
    record Job(String name, int error, long readBytes, long readIos, long writeBytes, long writeIos,
               long trimBytes, long runtimeMs) {
        /** Reads per second over the job's runtime. */
        double readIops() {
            return runtimeMs <= 0 ? 0 : readIos * 1000.0 / runtimeMs;
        }
    }

    record Result(Cmd.Result cmd, List<Job> jobs) {
        Job job(String name) {
            return jobs.stream().filter(j -> j.name.equals(name)).findFirst()
                    .orElseThrow(() -> new AssertionError("no fio job " + name + " in " + jobs));
        }

        long totalIos() {
            return jobs.stream().mapToLong(j -> j.readIos + j.writeIos).sum();
        }

        Duration took() {
            return cmd.took();
        }
    }

    private Fio() {}

    /** A fio job on {@code dev} that writes crc32c-verifiable data and stops at the first mismatch. */
    static List<String> verified(Path dev, String name, String... more) {
        List<String> a = new ArrayList<>(List.of("--name=" + name, "--filename=" + dev, "--direct=1",
                "--verify=crc32c", "--verify_fatal=1"));
        a.addAll(List.of(more));
        return a;
    }

    /** {@code a} with more arguments after it. */
    static List<String> plus(List<String> a, String... more) {
        List<String> r = new ArrayList<>(a);
        r.addAll(List.of(more));
        return r;
    }

    static Result run(Path workDir, Duration timeout, List<String> args) {
        List<String> cmd = new ArrayList<>();
        cmd.add("fio");
        cmd.add("--output-format=json");
        cmd.add("--verify_state_save=0");
        // Disk stats make fio walk /sys/block for every job: minutes with hundreds of devices in the guest.
        cmd.add("--disk_util=0");
        cmd.addAll(args);
        Cmd.Result r = Cmd.run(timeout, workDir, cmd);
        if (r.exit() != 0) {
            fail("fio failed: " + r.describe());
        }
        if (VERIFY_FAILURE.matcher(r.err()).find()) {
            fail("fio reported an error on stderr: " + r.describe());
        }
        Object json;
        try {
            json = Json.parse(r.out());
        } catch (RuntimeException e) {
            throw new AssertionError("cannot parse fio's JSON output: " + r.describe(), e);
        }
        List<Job> jobs = new ArrayList<>();
        for (Object j : Json.list(json, "jobs")) {
            Map<String, Object> read = Json.obj(j, "read");
            Map<String, Object> write = Json.obj(j, "write");
            Map<String, Object> trim = Json.obj(j, "trim");
            jobs.add(new Job((String) ((Map<?, ?>) j).get("jobname"), (int) Json.num(j, "error"),
                    Json.num(read, "io_bytes"), Json.num(read, "total_ios"), Json.num(write, "io_bytes"),
                    Json.num(write, "total_ios"), trim == null ? 0 : Json.num(trim, "io_bytes"),
                    Json.num(j, "job_runtime")));
        }
        if (jobs.isEmpty()) {
            fail("fio ran no job: " + r.describe());
        }
        for (Job j : jobs) {
            if (j.error != 0) {
                fail("fio job " + j.name + " ended with error " + j.error + ": " + r.describe());
            }
        }
        Result res = new Result(r, List.copyOf(jobs));
        System.err.printf(Locale.ROOT, "[e2e] fio %d job(s), %d I/Os, %.1f s: %s%n", jobs.size(), res.totalIos(),
                r.took().toMillis() / 1000.0, String.join(" ", args.subList(0, Math.min(args.size(), 12))));
        return res;
    }

    static Result run(Path workDir, Duration timeout, String... args) {
        return run(workDir, timeout, List.of(args));
    }
}
