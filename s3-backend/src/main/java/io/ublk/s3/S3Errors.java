package io.ublk.s3;

import java.io.IOException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.ApiCallAttemptTimeoutException;
import software.amazon.awssdk.core.exception.ApiCallTimeoutException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkServiceException;

/** How an SDK failure is read: worth another attempt or not, and what it says. */
final class S3Errors {
    private S3Errors() {}

    static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    /**
     * Server errors, throttling and request timeouts (5xx, 429, 408) and failures to talk at all
     * (connection refused or reset, timeouts); never another 4xx, which would only fail again.
     */
    static boolean retryable(Throwable t) {
        if (t instanceof SdkServiceException s) {
            int status = s.statusCode();
            return status >= 500 || status == 408 || status == 429 || s.isThrottlingException();
        }
        if (t instanceof ApiCallAttemptTimeoutException || t instanceof ApiCallTimeoutException) {
            return true;
        }
        if (t instanceof SdkClientException || t instanceof IOException) {
            for (Throwable c = t; c != null; c = c.getCause()) {
                if (c instanceof IOException || c instanceof TimeoutException) {
                    return true;
                }
            }
        }
        return false;
    }

    /** The HTTP status of a service answer, or -1 if the server never answered. */
    static int status(Throwable t) {
        return t instanceof SdkServiceException s ? s.statusCode() : -1;
    }

    /** The S3 error code ({@code NoSuchKey}, {@code SlowDown}), or {@code null}. */
    static String code(Throwable t) {
        if (t instanceof AwsServiceException a && a.awsErrorDetails() != null) {
            return a.awsErrorDetails().errorCode();
        }
        return null;
    }

    static String describe(Throwable t) {
        if (t instanceof SdkServiceException s) {
            String code = code(t);
            String message = t instanceof AwsServiceException a && a.awsErrorDetails() != null
                    ? a.awsErrorDetails().errorMessage() : t.getMessage();
            return "HTTP " + s.statusCode() + (code == null ? "" : " " + code) + (message == null ? "" : ": " + message);
        }
        return t.toString();
    }
}
