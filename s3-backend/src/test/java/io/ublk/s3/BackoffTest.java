package io.ublk.s3;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BackoffTest {
    private final Backoff backoff = new Backoff(Duration.ofMillis(50), Duration.ofSeconds(5), new Random(1));

    @Test
    void ceilingDoublesThenCaps() {
        assertThat(backoff.ceilingNanos(1)).isEqualTo(Duration.ofMillis(50).toNanos());
        assertThat(backoff.ceilingNanos(2)).isEqualTo(Duration.ofMillis(100).toNanos());
        assertThat(backoff.ceilingNanos(4)).isEqualTo(Duration.ofMillis(400).toNanos());
        assertThat(backoff.ceilingNanos(8)).isEqualTo(Duration.ofSeconds(5).toNanos());
        assertThat(backoff.ceilingNanos(100)).isEqualTo(Duration.ofSeconds(5).toNanos());
    }

    @Test
    void delaysAreFullJitter() {
        long sum = 0;
        for (int i = 0; i < 1000; i++) {
            long d = backoff.delayNanos(3);
            assertThat(d).isBetween(0L, Duration.ofMillis(200).toNanos());
            sum += d;
        }
        assertThat(sum / 1000).isBetween(Duration.ofMillis(80).toNanos(), Duration.ofMillis(120).toNanos());
    }
}
