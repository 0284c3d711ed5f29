package io.ublk.blockcache.cache.format;

import io.ublk.s3.StoreException;

/** A store object is not what the volume format says: wrong magic, length or checksum. */
public class CorruptObjectException extends StoreException {
    public CorruptObjectException(String message) {
        super(message);
    }
}
