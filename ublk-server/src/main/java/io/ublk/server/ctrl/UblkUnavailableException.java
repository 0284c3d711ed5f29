package io.ublk.server.ctrl;

/** The kernel cannot serve ublk here: no control device, or a required feature is missing. */
public final class UblkUnavailableException extends RuntimeException {
    public UblkUnavailableException(String message) {
        super(message);
    }
}
