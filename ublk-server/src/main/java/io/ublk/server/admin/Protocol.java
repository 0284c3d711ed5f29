package io.ublk.server.admin;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.nio.file.Path;

/**
 * The admin protocol (docs/running.md, "Admin API"): over a unix stream socket, one request per
 * connection, each message one line of JSON.
 * <pre>
 * request:   {"v":1, "op":"device.add", "args":["--target","memory","--size","1GiB"], "cwd":"/root"}
 * progress:  {"v":1, "progress":"[3/16] adding 16 device(s): /dev/ublkb3 LIVE (0.4 s)"}   (zero or more)
 * answer:    {"v":1, "ok":true, "result":{...}}
 *            {"v":1, "ok":false, "error":{"code":"DUPLICATE", "message":"volume 'v1' is served already ..."}}
 * </pre>
 */
public final class Protocol {
    private Protocol() {}

    /** The one version this daemon speaks; a request naming another is refused (UNSUPPORTED_VERSION). */
    public static final int VERSION = 1;
    /** A longer request line is refused (TOO_LARGE) without being read further. */
    public static final int MAX_REQUEST_BYTES = 64 * 1024;
    /** The default socket. */
    public static final Path DEFAULT_SOCKET = Path.of("/run/ublk-server/admin.sock");
    /** The default state folder. */
    public static final Path DEFAULT_STATE_DIR = Path.of("/var/lib/ublk-server");

    /** The one JSON mapper: strict about unknown fields of records it reads. */
    public static ObjectMapper json() {
        return new ObjectMapper()
                .disable(SerializationFeature.INDENT_OUTPUT)
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    }
}
