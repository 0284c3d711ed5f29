package io.ublk.blockcache.cache;

import io.ublk.s3.StoreException;

/** A store object is not what the volume format says: wrong magic, length or checksum. */
final class CorruptObjectException extends StoreException {
    CorruptObjectException(String message) {
        super(message);
    }
}
