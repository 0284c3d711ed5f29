package io.ublk.server.e2e;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * Where an HTTP/1.1 message's body ends (RFC 9112 section 6.3) and reading one body with its
 * framing as it came: a chunked body keeps its chunk lines and trailers, so it is forwarded byte
 * for byte (an aws-chunked payload's signatures live inside it).
 */
final class HttpBody {
    /** Larger bodies are not a test's (segments are 2 MiB): fail rather than buffer them. */
    static final int MAX_BODY = 64 << 20;

    enum Framing {
        /** No body: a request without length or chunking, a HEAD answer, 1xx, 204, 304. */
        NONE,
        /** {@code Content-Length} bytes. */
        LENGTH,
        /** {@code Transfer-Encoding: chunked}: chunks up to the last, then trailers. */
        CHUNKED,
        /** A response with neither: everything up to the close. */
        UNTIL_CLOSE
    }

    private HttpBody() {}

    static Framing ofRequest(HttpHead head) {
        if (head.has("Transfer-Encoding", "chunked")) {
            return Framing.CHUNKED;
        }
        return head.field("Content-Length") != null ? Framing.LENGTH : Framing.NONE;
    }

    /** The framing of a response to a request made with {@code requestMethod}. */
    static Framing ofResponse(HttpHead head, String requestMethod) {
        int status = head.status();
        if ("HEAD".equalsIgnoreCase(requestMethod) || status / 100 == 1 || status == 204 || status == 304) {
            return Framing.NONE;
        }
        if (head.has("Transfer-Encoding", "chunked")) {
            return Framing.CHUNKED;
        }
        return head.field("Content-Length") != null ? Framing.LENGTH : Framing.UNTIL_CLOSE;
    }

    /** Reads the body {@code head} announces, as raw bytes. */
    static byte[] read(InputStream in, HttpHead head, Framing framing) throws IOException {
        return switch (framing) {
            case NONE -> new byte[0];
            case LENGTH -> exactly(in, length(head));
            case CHUNKED -> chunked(in);
            case UNTIL_CLOSE -> untilClose(in);
        };
    }

    private static int length(HttpHead head) throws IOException {
        String v = head.field("Content-Length");
        long n;
        try {
            n = Long.parseLong(v.strip());
        } catch (NumberFormatException e) {
            throw new IOException("bad Content-Length '" + v + "'", e);
        }
        if (n < 0 || n > MAX_BODY) {
            throw new IOException("Content-Length " + n + " outside 0.." + MAX_BODY);
        }
        return (int) n;
    }

    private static byte[] exactly(InputStream in, int n) throws IOException {
        byte[] b = in.readNBytes(n);
        if (b.length != n) {
            throw new EOFException("connection closed after " + b.length + " of " + n + " body bytes");
        }
        return b;
    }

    private static byte[] chunked(InputStream in) throws IOException {
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        while (true) {
            String sizeLine = HttpHead.line(in, false);
            raw.writeBytes((sizeLine + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
            int semi = sizeLine.indexOf(';');
            int size;
            try {
                size = Integer.parseInt((semi < 0 ? sizeLine : sizeLine.substring(0, semi)).strip(), 16);
            } catch (NumberFormatException e) {
                throw new IOException("bad chunk size line '" + sizeLine + "'", e);
            }
            if (size < 0 || raw.size() + (long) size > MAX_BODY) {
                throw new IOException("chunked body beyond " + MAX_BODY + " bytes");
            }
            if (size == 0) {
                // trailer fields, then the empty line
                for (String t = HttpHead.line(in, false); ; t = HttpHead.line(in, false)) {
                    raw.writeBytes((t + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
                    if (t.isEmpty()) {
                        return raw.toByteArray();
                    }
                }
            }
            raw.writeBytes(exactly(in, size));
            String end = HttpHead.line(in, false);
            if (!end.isEmpty()) {
                throw new IOException("chunk of " + size + " bytes not followed by CRLF: '" + end + "'");
            }
            raw.writeBytes("\r\n".getBytes(StandardCharsets.ISO_8859_1));
        }
    }

    private static byte[] untilClose(InputStream in) throws IOException {
        byte[] b = in.readNBytes(MAX_BODY + 1);
        if (b.length > MAX_BODY) {
            throw new IOException("body beyond " + MAX_BODY + " bytes");
        }
        return b;
    }
}
