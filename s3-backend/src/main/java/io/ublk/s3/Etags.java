package io.ublk.s3;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Etags as S3 computes them for unencrypted objects: the hex MD5 of the bytes for a single-part
 * put, and the MD5 of the parts' binary MD5s plus {@code -N} for an N-part upload. Etags leave the
 * stores unquoted; the HTTP headers that carry them are quoted.
 */
final class Etags {
    private static final HexFormat HEX = HexFormat.of();

    private Etags() {}

    static String md5Hex(byte[] data) {
        return HEX.formatHex(md5().digest(data));
    }

    /** The etag of the concatenation of {@code parts} (each from its position; none is moved). */
    static String md5Hex(java.util.List<java.nio.ByteBuffer> parts) {
        MessageDigest md = md5();
        for (java.nio.ByteBuffer b : parts) {
            md.update(b.duplicate());
        }
        return HEX.formatHex(md.digest());
    }

    /** The etag S3 gives an object uploaded as parts of {@code partSize} bytes (the last shorter). */
    static String multipart(byte[] data, long partSize) {
        MessageDigest ofParts = md5();
        int parts = 0;
        for (long off = 0; off < data.length; off += partSize, parts++) {
            MessageDigest part = md5();
            part.update(data, (int) off, (int) Math.min(partSize, data.length - off));
            ofParts.update(part.digest());
        }
        return HEX.formatHex(ofParts.digest()) + "-" + parts;
    }

    /** {@code "abc"} -> {@code abc}; S3 answers etags quoted, we hand them out bare. */
    static String unquote(String etag) {
        if (etag != null && etag.length() >= 2 && etag.startsWith("\"") && etag.endsWith("\"")) {
            return etag.substring(1, etag.length() - 1);
        }
        return etag;
    }

    /** {@code abc} -> {@code "abc"}, as If-Match wants it; already quoted stays as is. */
    static String quote(String etag) {
        return etag.startsWith("\"") ? etag : "\"" + etag + "\"";
    }

    private static MessageDigest md5() {
        try {
            return MessageDigest.getInstance("MD5");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every JDK has MD5", e);
        }
    }
}
