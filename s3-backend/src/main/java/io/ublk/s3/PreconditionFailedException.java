package io.ublk.s3;

/** A conditional put lost: the object exists (If-None-Match) or changed (If-Match). */
public class PreconditionFailedException extends StoreException {
    public PreconditionFailedException(String key) {
        super("precondition failed for " + key);
    }
}
