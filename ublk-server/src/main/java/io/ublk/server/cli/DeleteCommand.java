package io.ublk.server.cli;

import io.ublk.headers.UblkDevState;
import io.ublk.server.ctrl.DeviceInfo;
import io.ublk.server.ctrl.UblkControl;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code ublk-server delete}: removes devices a dead server left behind. Devices are created with
 * USER_RECOVERY, so when their server dies (kill -9, a crash) the kernel keeps them, queueing I/O
 * for a server that would recover them; this server does not recover devices (a restart serves the
 * volume on a new device), so the old one is stopped (its queued I/O fails) and deleted here.
 */
@Command(name = "delete", mixinStandardHelpOptions = true,
        description = "Stop and delete ublk devices: the ones named, or --stale: those whose server process is gone.")
final class DeleteCommand implements Callable<Integer> {
    private static final Path DEV = Path.of("/dev");

    @Spec CommandSpec spec;

    @Option(names = "--id", description = "Device id N of /dev/ublkbN (repeatable).")
    List<Integer> ids = new ArrayList<>();

    @Option(names = "--stale", description = "Every device whose server process (ublksrv_pid) no longer exists.")
    boolean stale;

    @Option(names = "--timeout", defaultValue = "30s", converter = DurationConverter.class,
            description = "Deadline of each control command. Default: ${DEFAULT-VALUE}.")
    Duration timeout;

    @Override
    public Integer call() throws IOException {
        if (ids.isEmpty() == !stale) {
            throw new ParameterException(spec.commandLine(), "give --id N (repeatable) or --stale, not both");
        }
        PrintWriter out = spec.commandLine().getOut();
        try (UblkControl control = UblkControl.open(timeout)) {
            List<Integer> victims = stale ? staleDevices(control) : ids;
            for (int id : victims) {
                DeviceInfo info = control.deviceInfo(id);
                try {
                    control.stopDevice(id);
                } catch (RuntimeException e) {
                    // A device never started (or already stopped) has nothing to stop; DEL_DEV still works.
                }
                control.deleteDevice(id);
                out.printf("deleted /dev/ublkb%d (state %d, server pid %d)%n", id, info.state(), info.ublksrvPid());
            }
            if (victims.isEmpty()) {
                out.println("no stale devices");
            }
        }
        out.flush();
        return 0;
    }

    /**
     * Devices whose server pid is set (they were started) and names no live process, and devices
     * the kernel holds for a server that is gone (QUIESCED with no pid: 7.x resets the pid of a
     * dead server, 6.12 keeps it).
     */
    private static List<Integer> staleDevices(UblkControl control) throws IOException {
        TreeSet<Integer> ids = new TreeSet<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(DEV, "ublkc*")) {
            for (Path p : s) {
                String n = p.getFileName().toString().substring("ublkc".length());
                if (n.matches("\\d+")) {
                    ids.add(Integer.parseInt(n));
                }
            }
        }
        List<Integer> stale = new ArrayList<>();
        for (int id : ids) {
            DeviceInfo info = control.deviceInfo(id);
            boolean deadPid = info.ublksrvPid() > 0 && !Files.exists(Path.of("/proc/" + info.ublksrvPid()));
            boolean noServer = info.ublksrvPid() <= 0 && info.state() == UblkDevState.QUIESCED;
            if (deadPid || noServer) {
                stale.add(id);
            }
        }
        return stale;
    }
}
