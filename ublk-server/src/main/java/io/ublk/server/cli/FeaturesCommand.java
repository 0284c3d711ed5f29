package io.ublk.server.cli;

import io.ublk.server.ctrl.FeatureNames;
import io.ublk.server.ctrl.UblkControl;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ublk-server features}: what this kernel's ublk driver supports (GET_FEATURES). */
@Command(name = "features", mixinStandardHelpOptions = true,
        description = "Print the kernel's ublk feature flags by name (GET_FEATURES).")
final class FeaturesCommand implements Callable<Integer> {
    @Option(names = "--timeout", defaultValue = "10s", converter = DurationConverter.class,
            description = "Deadline for the control command (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @Spec CommandSpec spec;

    @Override
    public Integer call() {
        long features;
        try (UblkControl control = UblkControl.open(timeout)) {
            features = control.features();
        }
        PrintWriter out = spec.commandLine().getOut();
        out.printf("ublk features: 0x%x%n", features);
        for (String name : FeatureNames.names(features)) {
            out.println("  " + name);
        }
        out.flush();
        return 0;
    }
}
