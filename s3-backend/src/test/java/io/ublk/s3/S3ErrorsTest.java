package io.ublk.s3;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.ConnectException;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.core.exception.ApiCallAttemptTimeoutException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.services.s3.model.S3Exception;

class S3ErrorsTest {
    private static S3Exception status(int status, String code) {
        return (S3Exception) S3Exception.builder().statusCode(status)
                .awsErrorDetails(AwsErrorDetails.builder().errorCode(code).errorMessage("m").build()).build();
    }

    @Test
    void serverErrorsThrottlingAndTimeoutsAreRetried() {
        assertThat(S3Errors.retryable(status(500, "InternalError"))).isTrue();
        assertThat(S3Errors.retryable(status(503, "SlowDown"))).isTrue();
        assertThat(S3Errors.retryable(status(429, "TooManyRequests"))).isTrue();
        assertThat(S3Errors.retryable(status(408, "RequestTimeout"))).isTrue();
        assertThat(S3Errors.retryable(ApiCallAttemptTimeoutException.create(1000))).isTrue();
        assertThat(S3Errors.retryable(SdkClientException.create("connect", new ConnectException("refused")))).isTrue();
    }

    @Test
    void otherClientErrorsAreNot() {
        for (int s : new int[] {400, 403, 404, 409, 412, 416}) {
            assertThat(S3Errors.retryable(status(s, "X"))).as("HTTP " + s).isFalse();
        }
        assertThat(S3Errors.retryable(SdkClientException.create("Unable to load credentials"))).isFalse();
        assertThat(S3Errors.retryable(new IllegalStateException())).isFalse();
    }

    @Test
    void unwrapsAndDescribes() {
        S3Exception e = status(403, "AccessDenied");
        assertThat(S3Errors.unwrap(new CompletionException(e))).isSameAs(e);
        assertThat(S3Errors.describe(e)).isEqualTo("HTTP 403 AccessDenied: m");
    }
}
