package io.ublk.s3;

/** The key names no object. */
public class ObjectNotFoundException extends StoreException {
    public ObjectNotFoundException(String key) {
        super("no such object: " + key);
    }
}
