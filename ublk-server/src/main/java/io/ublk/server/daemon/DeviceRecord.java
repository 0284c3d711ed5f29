package io.ublk.server.daemon;

import java.util.List;

/**
 * What the state folder keeps per device, so a restarted daemon knows what it served: the kernel
 * device id, the target options and the last state written. One JSON file per device.
 *
 * @param version the record format (1)
 * @param id the kernel device id N of {@code /dev/ublkbN}
 * @param args the target options ({@link DeviceSpec#args})
 * @param state the state when written: LIVE once served, DELETING while being removed
 * @param createdMillis when the device was first added (wall clock)
 * @param source who asked for it: {@code admin} (device add) or {@code config} (the config file,
 *     which also removes it once the file no longer names it)
 */
public record DeviceRecord(int version, int id, List<String> args, DeviceState state, long createdMillis,
        String source) {
    public static final String ADMIN = "admin";
    public static final String CONFIG = "config";

    public static final int VERSION = 1;

    public DeviceRecord {
        args = List.copyOf(args);
    }

    public DeviceRecord withState(DeviceState s) {
        return new DeviceRecord(version, id, args, s, createdMillis, source);
    }
}
