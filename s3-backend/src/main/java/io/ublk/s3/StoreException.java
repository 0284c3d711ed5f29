package io.ublk.s3;

/** An object-store operation failed for good (after the store's own retries). */
public class StoreException extends RuntimeException {
    public StoreException(String message) {
        super(message);
    }

    public StoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
