package io.ublk.server.e2e;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One scrape of the server's Prometheus endpoint ({@code --metrics-port P} serves
 * {@code http://127.0.0.1:P/metrics}), parsed into samples looked up by name and labels.
 */
final class Metrics {
    private static final Pattern SAMPLE =
            Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)\\})?\\s+(\\S+)(\\s+\\d+)?$");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");

    record Sample(String name, Map<String, String> labels, double value) {}

    private final String text;
    private final List<Sample> samples;

    private Metrics(String text, List<Sample> samples) {
        this.text = text;
        this.samples = samples;
    }

    /** Scrapes {@code http://127.0.0.1:port/metrics}; fails with a clear message if nothing answers there. */
    static Metrics scrape(int port) {
        URI uri = URI.create("http://127.0.0.1:" + port + "/metrics");
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(20)).build();
        HttpResponse<String> resp;
        try {
            resp = client.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(60)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new AssertionError("metrics endpoint " + uri + " did not answer (" + e
                    + "): does the server implement --metrics-port yet?", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while scraping " + uri, e);
        }
        if (resp.statusCode() != 200) {
            fail("metrics endpoint " + uri + " answered HTTP " + resp.statusCode() + ": " + Cmd.tail(resp.body(), 500));
        }
        return parse(resp.body());
    }

    /**
     * {@link #scrape}, as one HTTP/1.1 GET over a plain socket: the JDK's HttpClient takes tens of
     * seconds to start under TCG (its first request), which delays whatever the scrape precedes.
     */
    static Metrics scrapePlain(int port) {
        try (java.net.Socket s = new java.net.Socket()) {
            s.connect(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), port), 20_000);
            s.setSoTimeout(60_000);
            s.getOutputStream().write(("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            String resp = new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            int body = resp.indexOf("\r\n\r\n");
            if (!resp.startsWith("HTTP/1.1 200") || body < 0) {
                fail("metrics endpoint 127.0.0.1:" + port + " answered: " + Cmd.tail(resp, 500));
            }
            return parse(resp.substring(body + 4));
        } catch (IOException e) {
            throw new AssertionError("metrics endpoint 127.0.0.1:" + port + " did not answer: " + e, e);
        }
    }

    static Metrics parse(String text) {
        List<Sample> out = new ArrayList<>();
        for (String line : text.split("\n")) {
            String l = line.strip();
            if (l.isEmpty() || l.startsWith("#")) {
                continue;
            }
            Matcher m = SAMPLE.matcher(l);
            if (!m.matches()) {
                continue;
            }
            Map<String, String> labels = new LinkedHashMap<>();
            if (m.group(3) != null) {
                Matcher lm = LABEL.matcher(m.group(3));
                while (lm.find()) {
                    labels.put(lm.group(1), lm.group(2));
                }
            }
            double v;
            try {
                v = Double.parseDouble(m.group(4).replace("+Inf", "Infinity").replace("-Inf", "-Infinity"));
            } catch (NumberFormatException e) {
                continue;
            }
            out.add(new Sample(m.group(1), labels, v));
        }
        return new Metrics(text, List.copyOf(out));
    }

    /**
     * The value of the one sample named {@code name} whose labels include {@code labels} (given as
     * key, value, key, value...); fails, showing the scrape's lines for that name, if there is none.
     */
    double value(String name, String... labels) {
        List<Sample> hits = samples.stream().filter(s -> s.name.equals(name) && has(s, labels)).toList();
        if (hits.size() != 1) {
            fail((hits.isEmpty() ? "no" : hits.size()) + " sample(s) " + name + " with labels " + List.of(labels)
                    + " in the scrape; lines for " + name + ": " + linesFor(name));
        }
        return hits.get(0).value;
    }

    /** The sum over every sample named {@code name}; fails if there is none. */
    double sum(String name) {
        List<Sample> hits = samples.stream().filter(s -> s.name.equals(name)).toList();
        if (hits.isEmpty()) {
            fail("no sample " + name + " in the scrape (" + samples.size() + " samples): "
                    + Cmd.tail(text, 1500));
        }
        return hits.stream().mapToDouble(Sample::value).sum();
    }

    List<Sample> samples() {
        return samples;
    }

    String linesFor(String name) {
        return text.lines().filter(l -> l.startsWith(name)).toList().toString();
    }

    private static boolean has(Sample s, String[] labels) {
        for (int i = 0; i + 1 < labels.length; i += 2) {
            if (!labels[i + 1].equals(s.labels.get(labels[i]))) {
                return false;
            }
        }
        return true;
    }
}
