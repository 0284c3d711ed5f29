package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Host tier: the s3proxy helper the VM tests use starts, binds loopback only and demands signatures. */
class S3ProxyProcessTest {
    @TempDir
    Path dir;

    @Test
    void startsOnLoopbackAndRefusesAnonymousRequests() throws Exception {
        try (S3ProxyProcess s3 = S3ProxyProcess.start(dir, "bkt", Duration.ofMinutes(2))) {
            assertThat(s3.endpoint().getHost()).isEqualTo("127.0.0.1");
            assertThat(s3.bucketDir()).isDirectory();
            HttpResponse<String> r = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(s3.endpoint().resolve("/bkt/")).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as("anonymous listing: %s", r.body()).isEqualTo(403);
        }
    }
}
