package io.ublk.blockcache.cache.format;

/** One committed block's bytes in the store fail their checksum (or are short): that block is damaged. */
public final class CorruptBlockException extends CorruptObjectException {
    /** Where the index says the block is (segment, slot, checksum). */
    public final long location;

    public CorruptBlockException(String message, long location) {
        super(message);
        this.location = location;
    }
}
