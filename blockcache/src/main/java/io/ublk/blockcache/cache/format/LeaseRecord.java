package io.ublk.blockcache.cache.format;

import io.ublk.blockcache.cache.volume.WriterLease;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/**
 * The body of a volume's writer lease object: who may write the volume, and until when. Plain
 * text ({@code key=value} lines after a version line) so an operator can read it with
 * {@code cat}; written only with conditional PUTs (see {@code WriterLease}).
 *
 * @param uuid          the volume's uuid (a lease never carries over to a re-created volume)
 * @param writer        the holder's writer id (its cache folder's, from {@code volume.id})
 * @param holder        where the holder runs, for messages (host name and process id)
 * @param ttlMillis     how long each renewal holds
 * @param expiresMillis wall-clock time the lease ends unless renewed (0: released)
 * @param nonce         new with every write of the object, so a writer recognises its own PUT
 *                      whose answer was lost
 */
public record LeaseRecord(UUID uuid, UUID writer, String holder, long ttlMillis, long expiresMillis, long nonce) {
    private static final String VERSION_LINE = "ublk-writer-lease 1";

    public LeaseRecord {
        if (holder.indexOf('\n') >= 0) {
            throw new IllegalArgumentException("lease holder must be one line: " + holder);
        }
    }

    public boolean released() {
        return expiresMillis == 0;
    }

    public byte[] encode() {
        return (VERSION_LINE + "\nvolume=" + uuid + "\nwriter=" + writer + "\nholder=" + holder + "\nttl-ms=" + ttlMillis
                + "\nexpires-ms=" + expiresMillis + "\nnonce=" + Long.toHexString(nonce) + "\n")
                .getBytes(StandardCharsets.UTF_8);
    }

    /** @throws CorruptObjectException if {@code data} is not a lease this version writes */
    public static LeaseRecord decode(String what, byte[] data) {
        String[] lines = new String(data, StandardCharsets.UTF_8).split("\n");
        if (lines.length == 0 || !lines[0].equals(VERSION_LINE)) {
            throw new CorruptObjectException(what + " is not a writer lease (first line '"
                    + (lines.length == 0 ? "" : lines[0].substring(0, Math.min(40, lines[0].length()))) + "')");
        }
        Map<String, String> f = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int eq = lines[i].indexOf('=');
            if (eq <= 0) {
                throw new CorruptObjectException(what + " line " + (i + 1) + " is not key=value");
            }
            f.put(lines[i].substring(0, eq), lines[i].substring(eq + 1));
        }
        try {
            return new LeaseRecord(UUID.fromString(need(f, "volume", what)), UUID.fromString(need(f, "writer", what)),
                    need(f, "holder", what), Long.parseLong(need(f, "ttl-ms", what)),
                    Long.parseLong(need(f, "expires-ms", what)), Long.parseUnsignedLong(need(f, "nonce", what), 16));
        } catch (IllegalArgumentException e) {
            throw new CorruptObjectException(what + " has a bad field: " + e.getMessage());
        }
    }

    private static String need(Map<String, String> f, String key, String what) {
        String v = f.get(key);
        if (v == null) {
            throw new CorruptObjectException(what + " has no " + key);
        }
        return v;
    }
}
