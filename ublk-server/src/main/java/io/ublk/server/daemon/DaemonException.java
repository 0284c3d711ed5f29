package io.ublk.server.daemon;

/**
 * A request the daemon refused or could not carry out, with a code a client can act on. Refusals
 * ({@link Code#isRefusal}) changed nothing.
 */
public final class DaemonException extends RuntimeException {
    /** Why; the admin protocol sends the name. */
    public enum Code {
        MALFORMED, TOO_LARGE, UNSUPPORTED_VERSION, UNKNOWN_COMMAND, BAD_ARGUMENT, UNKNOWN_DEVICE, DUPLICATE,
        SIZE_MISMATCH, BUSY, FORBIDDEN, SHUTTING_DOWN, FAILED;

        /** True for every code but FAILED: the request was refused before anything changed. */
        public boolean isRefusal() {
            return this != FAILED;
        }
    }

    private final Code code;

    public DaemonException(Code code, String message) {
        super(message);
        this.code = code;
    }

    public DaemonException(Code code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    public Code code() {
        return code;
    }
}
