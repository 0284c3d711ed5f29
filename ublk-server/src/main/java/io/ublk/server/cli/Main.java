package io.ublk.server.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Entry point of {@code bin/ublk-server}. Exit codes: 0 success, 1 runtime failure (one line on
 * stderr), 2 bad arguments.
 */
@Command(
        name = "ublk-server",
        mixinStandardHelpOptions = true,
        version = "ublk-server 0.1.0",
        description = "Serves Linux block devices (/dev/ublkbN) from user space through the kernel's ublk driver.",
        subcommands = {FeaturesCommand.class, RunCommand.class, DrainCommand.class, DeleteCommand.class, DaemonCommand.class,
                DeviceCommand.class, VolumeCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required (see --help)");
    }

    /** Runs the CLI and returns its exit code (tests call this instead of {@link #main}). */
    public static int execute(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        // Bad arguments: one line and exit code 2, no usage dump.
        cli.setParameterExceptionHandler((e, a) -> {
            e.getCommandLine().getErr().println("ublk-server: " + e.getMessage() + " (see --help)");
            return 2;
        });
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("ublk-server: " + e.getMessage());
            return 1;
        });
        return cli.execute(args);
    }

    public static void main(String[] args) {
        System.exit(execute(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }
}
