package io.ublk.blockcache.cache;

/**
 * A volume cannot be opened as asked: it is missing, its size differs, its cache folder belongs to
 * another volume or is in use, or the store holds something that is not a volume. The message is
 * one line meant for the operator; nothing was changed.
 */
public class VolumeException extends RuntimeException {
    public VolumeException(String message) {
        super(message);
    }

    public VolumeException(String message, Throwable cause) {
        super(message, cause);
    }
}
