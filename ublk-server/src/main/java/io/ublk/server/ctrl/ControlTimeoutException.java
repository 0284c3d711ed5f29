package io.ublk.server.ctrl;

/** A control command did not complete within its deadline; it may still complete later. */
public final class ControlTimeoutException extends RuntimeException {
    public ControlTimeoutException(String message) {
        super(message);
    }
}
