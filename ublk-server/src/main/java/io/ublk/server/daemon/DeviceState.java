package io.ublk.server.daemon;

/** Where a device of the daemon is in its life, as {@code device list} shows it. */
public enum DeviceState {
    /** Being created, or its kernel device being recovered. */
    STARTING,
    /** Served by this daemon. */
    LIVE,
    /** In the kernel with its I/O queued, no server attached (a dead daemon's, before recovery). */
    QUIESCED,
    /** Being stopped and deleted. */
    DELETING,
    /** Its record could not be served (the target did not open, recovery failed); see the reason. */
    FAILED,
    /** A kernel ublk device with no record of this daemon: listed, never touched. */
    UNMANAGED
}
