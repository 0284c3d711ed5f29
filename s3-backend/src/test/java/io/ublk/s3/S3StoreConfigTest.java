package io.ublk.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class S3StoreConfigTest {
    @Test
    void defaultsAreValidAndAws() {
        S3StoreConfig c = S3StoreConfig.defaults("b");
        assertThat(c.endpoint()).isNull();
        assertThat(c.effectiveRegion()).isNull();
        assertThat(c.objectKey("a/b")).isEqualTo("a/b");
        assertThat(c.describe()).isEqualTo("s3://b");
    }

    @Test
    void prefixIsPrependedWithOneSlash() {
        S3StoreConfig c = S3StoreConfig.defaults("b").withPrefix("/vols/one/");
        assertThat(c.prefix()).isEqualTo("vols/one");
        assertThat(c.objectKey("k/1")).isEqualTo("vols/one/k/1");
        assertThat(c.objectKey("")).isEqualTo("vols/one/");
        assertThat(c.storeKey("vols/one/k/1")).isEqualTo("k/1");
        assertThat(c.describe()).isEqualTo("s3://b/vols/one");
    }

    @Test
    void anEndpointMeansPathStyleAndAFallbackRegion() {
        S3StoreConfig c = S3StoreConfig.defaults("b").withEndpoint(URI.create("http://127.0.0.1:9000"));
        assertThat(c.pathStyle()).isTrue();
        assertThat(c.effectiveRegion()).isEqualTo("us-east-1");
    }

    @Test
    void redactHidesUserInfoQueryAndFragmentOnly() {
        assertThat(S3StoreConfig.redact(URI.create("http://AKIA:s3cr3t@host:9000"))).isEqualTo("http://***@host:9000");
        assertThat(S3StoreConfig.redact(URI.create("https://host/base?X-Amz-Signature=s3cr3t#frag")))
                .isEqualTo("https://host/base?***#***");
        assertThat(S3StoreConfig.redact(URI.create("http://127.0.0.1:9000"))).isEqualTo("http://127.0.0.1:9000");
        assertThat(S3StoreConfig.redact(URI.create("http://a%40b:c@d_e:1/p"))).isEqualTo("http://***@d_e:1/p");
        assertThat(S3StoreConfig.redact(URI.create("mailto:s3cr3t@host"))).isEqualTo("mailto:***");
        assertThat(S3StoreConfig.redact(null)).isEqualTo("null");
    }

    /** The SDK never signs with URL credentials; refusing them keeps them out of every message and log. */
    @Test
    void anEndpointWithCredentialsOrAQueryIsRefusedWithoutEchoingThem() {
        S3StoreConfig d = S3StoreConfig.defaults("b");
        assertThatThrownBy(() -> d.withEndpoint(URI.create("http://AKIA:s3cr3t@host:9000")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("http://***@host:9000").hasMessageContaining("credentials")
                .hasMessageNotContaining("s3cr3t").hasMessageNotContaining("AKIA");
        assertThatThrownBy(() -> d.withEndpoint(URI.create("http://host:9000/?X-Amz-Credential=AKIA")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("query")
                .hasMessageNotContaining("AKIA");
        assertThat(d.withEndpoint(URI.create("http://host:9000")).describe()).isEqualTo("s3://b at http://host:9000");
    }

    @Test
    void badValuesAreRefusedWithTheRuleAndTheValue() {
        S3StoreConfig d = S3StoreConfig.defaults("b");
        assertThatThrownBy(() -> S3StoreConfig.defaults(" ")).hasMessageContaining("bucket");
        assertThatThrownBy(() -> d.withMaxConcurrency(0)).hasMessage("maxConcurrency must be at least 1: 0");
        assertThatThrownBy(() -> d.withRetries(0, Duration.ofMillis(1), Duration.ofMillis(1)))
                .hasMessage("maxAttempts must be at least 1: 0");
        assertThatThrownBy(() -> d.withRetries(3, Duration.ofMillis(10), Duration.ofMillis(1)))
                .hasMessageContaining("maxBackoff must be at least baseBackoff");
        assertThatThrownBy(() -> d.withMultipart(64L << 20, 1 << 20)).hasMessageContaining("partSize must be at least 5 MiB");
        assertThatThrownBy(() -> d.withMultipart(5L << 20, 6L << 20)).hasMessageContaining("multipartThreshold");
        assertThatThrownBy(() -> d.withApiCallTimeout(Duration.ZERO)).hasMessageContaining("apiCallTimeout");
    }

    @Test
    void keyOrderIsUtf8Binary() {
        assertThat(KeyOrder.INSTANCE.compare("\uff21", "\ud83d\ude00")).isNegative();
        assertThat("\uff21".compareTo("\ud83d\ude00")).isPositive(); // what String would say
        assertThat(KeyOrder.INSTANCE.compare("a", "ab")).isNegative();
        assertThat(KeyOrder.INSTANCE.compare("b", "ab")).isPositive();
        assertThat(KeyOrder.INSTANCE.compare("ab", "ab")).isZero();
    }
}
