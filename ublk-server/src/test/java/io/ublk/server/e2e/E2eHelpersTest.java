package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Host tier: the parsers the VM-tier e2e tests rely on. */
class E2eHelpersTest {
    @Test
    void jsonReadsFioOutputAfterLeadingNotes() {
        String out = "fio: note: both iodepth >= 1 and synchronous I/O engine are selected\n"
                + "{\n  \"fio version\" : \"fio-3.33\",\n  \"jobs\" : [ {\n    \"jobname\" : \"seq\\\"x\",\n"
                + "    \"error\" : 0,\n    \"read\" : { \"io_bytes\" : 268435456, \"total_ios\" : 2048,"
                + " \"lat\" : -1.5e3 },\n    \"write\" : { \"io_bytes\" : 0, \"total_ios\" : 0 }, \"ok\" : true,"
                + " \"none\" : null, \"empty\" : [], \"o\" : {} } ]\n}\n";
        Object json = Json.parse(out);
        List<Object> jobs = Json.list(json, "jobs");
        assertThat(jobs).hasSize(1);
        assertThat(((Map<?, ?>) jobs.get(0)).get("jobname")).isEqualTo("seq\"x");
        assertThat(Json.num(Json.obj(jobs.get(0), "read"), "io_bytes")).isEqualTo(268435456L);
        assertThat(Json.num(Json.obj(jobs.get(0), "read"), "lat")).isEqualTo(-1500L);
        assertThatThrownBy(() -> Json.parse("fio: pid=12, err=84/file:io_u.c")).isInstanceOf(
                IllegalArgumentException.class);
    }

    @Test
    void metricsFindSamplesByNameAndLabels() {
        Metrics m = Metrics.parse("""
                # HELP ublk_bounce_slots_peak most bounce slots ever in use at once
                # TYPE ublk_bounce_slots_peak gauge
                ublk_bounce_slots_peak{cpu="0",worker="0"} 2.0
                ublk_bounce_slots_peak{cpu="1",worker="1"} 7.0
                ublk_worker_requests_total{cpu="0",worker="0"} 1027.0 1700000000000
                ublk_devices 256.0
                """);
        assertThat(m.value("ublk_bounce_slots_peak", "worker", "1")).isEqualTo(7.0);
        assertThat(m.value("ublk_worker_requests_total", "worker", "0")).isEqualTo(1027.0);
        assertThat(m.value("ublk_devices")).isEqualTo(256.0);
        assertThat(m.sum("ublk_bounce_slots_peak")).isEqualTo(9.0);
        assertThatThrownBy(() -> m.value("ublk_bounce_slots_peak")).isInstanceOf(AssertionError.class)
                .hasMessageContaining("2 sample(s)");
        assertThatThrownBy(() -> m.value("ublk_bounce_backpressure_waits_total", "worker", "0"))
                .isInstanceOf(AssertionError.class).hasMessageContaining("no sample(s)");
    }

    @Test
    void plainScrapeReadsAnHttpServersAnswer() throws Exception {
        com.sun.net.httpserver.HttpServer server = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 4);
        byte[] body = "# TYPE x gauge\nublk_devices 3.0\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        server.createContext("/metrics", e -> {
            e.sendResponseHeaders(200, body.length);
            try (var out = e.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
        try {
            assertThat(Metrics.scrapePlain(server.getAddress().getPort()).value("ublk_devices")).isEqualTo(3.0);
        } finally {
            server.stop(0);
        }
    }
}
