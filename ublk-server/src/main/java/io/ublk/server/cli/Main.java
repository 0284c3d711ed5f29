package io.ublk.server.cli;

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
    subcommands = {FeaturesCommand.class})
public final class Main implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "a command is required (see --help)");
  }

  /** Runs the CLI and returns its exit code (tests call this instead of {@link #main}). */
  public static int execute(String... args) {
    CommandLine cli = new CommandLine(new Main());
    cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
      commandLine.getErr().println("ublk-server: " + e.getMessage());
      return 1;
    });
    return cli.execute(args);
  }

  public static void main(String[] args) {
    System.exit(execute(args));
  }
}
