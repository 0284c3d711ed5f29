package io.ublk.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.server.ctrl.UblkControl;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import org.junit.jupiter.api.Test;

/** CLI contract: exit codes and one-line errors. */
class MainTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        return Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
    }

    @Test
    void helpListsTheCommands() {
        assertThat(run("--help")).isZero();
        assertThat(out.toString()).contains("features");
    }

    @Test
    void badArgumentsGiveOneLineAndExitCode2() {
        assertThat(run("--bogus")).isEqualTo(2);
        assertThat(err.toString()).isEqualTo("ublk-server: Unknown option: '--bogus' (see --help)" + System.lineSeparator());
    }

    @Test
    void aMissingCommandIsABadArgument() {
        assertThat(run()).isEqualTo(2);
        assertThat(err.toString().lines()).hasSize(1).first().asString().contains("a command is required");
    }

    @Test
    void badDurationIsRejectedBeforeAnythingRuns() {
        assertThat(run("features", "--timeout", "0s")).isEqualTo(2);
        assertThat(err.toString()).contains("duration must be positive: '0s'");
        assertThat(run("features", "--timeout", "soon")).isEqualTo(2);
    }

    @Test
    void featuresWithoutUblkSaysWhatIsMissing() {
        // Host tier: this only holds where the kernel has no ublk (the VM tier covers the other case).
        if (Files.exists(UblkControl.CONTROL_PATH)) {
            assertThat(run("features")).isZero();
            assertThat(out.toString()).contains("USER_COPY");
        } else {
            assertThat(run("features")).isEqualTo(1);
            assertThat(err.toString()).contains("/dev/ublk-control does not exist").contains("ublk_drv");
        }
    }
}
