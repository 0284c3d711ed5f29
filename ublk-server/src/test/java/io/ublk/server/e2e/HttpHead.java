package io.ublk.server.e2e;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The start line and header fields of one HTTP/1.1 message as they came off the wire (order and
 * spelling kept, so a signed request goes on unchanged); names compare ignoring case.
 */
record HttpHead(String startLine, List<Field> fields) {
    /** Longest start or header line read; a longer one is not an S3 client's and fails the read. */
    private static final int MAX_LINE = 16 * 1024;
    private static final int MAX_FIELDS = 200;

    record Field(String name, String value) {}

    HttpHead {
        fields = List.copyOf(fields);
    }

    /**
     * Reads a start line and header fields up to the empty line; {@code null} when the stream
     * ends before the first byte (the peer closed an idle connection).
     */
    static HttpHead read(InputStream in) throws IOException {
        String start = line(in, true);
        if (start == null) {
            return null;
        }
        List<Field> fields = new ArrayList<>();
        for (String l = line(in, false); !l.isEmpty(); l = line(in, false)) {
            int colon = l.indexOf(':');
            if (colon <= 0 || fields.size() == MAX_FIELDS) {
                throw new IOException("bad header line after '" + start + "': '" + l + "'");
            }
            fields.add(new Field(l.substring(0, colon).strip(), l.substring(colon + 1).strip()));
        }
        return new HttpHead(start, fields);
    }

    /** One CRLF- (or LF-) terminated line without its end; {@code null} at EOF before a byte if allowed. */
    static String line(InputStream in, boolean eofIsNull) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream(64);
        while (true) {
            int c = in.read();
            if (c < 0) {
                if (eofIsNull && b.size() == 0) {
                    return null;
                }
                throw new EOFException("connection closed inside a line: '" + b.toString(StandardCharsets.ISO_8859_1) + "'");
            }
            if (c == '\n') {
                byte[] l = b.toByteArray();
                int n = l.length > 0 && l[l.length - 1] == '\r' ? l.length - 1 : l.length;
                return new String(l, 0, n, StandardCharsets.ISO_8859_1);
            }
            if (b.size() == MAX_LINE) {
                throw new IOException("line longer than " + MAX_LINE + " bytes");
            }
            b.write(c);
        }
    }

    /** A response head with these fields. */
    static HttpHead response(int status, String reason, List<Field> fields) {
        return new HttpHead("HTTP/1.1 " + status + " " + reason, fields);
    }

    /** The first value of field {@code name}, or {@code null}. */
    String field(String name) {
        for (Field f : fields) {
            if (f.name.equalsIgnoreCase(name)) {
                return f.value;
            }
        }
        return null;
    }

    /** Whether field {@code name} lists {@code token} (comma-separated, any case). */
    boolean has(String name, String token) {
        for (Field f : fields) {
            if (f.name.equalsIgnoreCase(name)) {
                for (String t : f.value.split(",")) {
                    if (t.strip().equalsIgnoreCase(token)) {
                        return true;
                    }
                }
            }
        }
        return false;
    }

    /** This head without field {@code name}. */
    HttpHead without(String name) {
        return new HttpHead(startLine, fields.stream().filter(f -> !f.name.equalsIgnoreCase(name)).toList());
    }

    /** A request's method. */
    String method() {
        return part(0);
    }

    /** A request's target (path and query, as sent). */
    String target() {
        return part(1);
    }

    /** A response's status code. */
    int status() {
        try {
            return Integer.parseInt(part(1));
        } catch (NumberFormatException e) {
            throw new IllegalStateException("not a status line: '" + startLine + "'", e);
        }
    }

    private String part(int i) {
        String[] p = startLine.split(" ", 3);
        if (p.length < 2) {
            throw new IllegalStateException("not an HTTP start line: '" + startLine + "'");
        }
        return p[i];
    }

    /**
     * Whether the connection may carry another message after this one (HTTP/1.1 keeps it unless
     * {@code Connection: close}; HTTP/1.0 only with {@code keep-alive}).
     */
    boolean keepsAlive() {
        if (has("Connection", "close")) {
            return false;
        }
        return !startLine.toUpperCase(Locale.ROOT).contains("HTTP/1.0") || has("Connection", "keep-alive");
    }

    /** The head as sent: start line, fields, empty line. */
    byte[] bytes() {
        StringBuilder b = new StringBuilder(startLine).append("\r\n");
        for (Field f : fields) {
            b.append(f.name).append(": ").append(f.value).append("\r\n");
        }
        return b.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1);
    }
}
