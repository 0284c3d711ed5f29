package io.ublk.s3;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.IntFunction;
import software.amazon.awssdk.core.async.AsyncRequestBody;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.model.CompleteMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CompleteMultipartUploadResponse;
import software.amazon.awssdk.services.s3.model.CompletedPart;

/**
 * One object uploaded as parts: create, upload every part (concurrently, each under the store's
 * concurrency bound like any request), complete; abort if anything failed for good, so no parts
 * are left to bill. A conditional put's condition goes on the complete request, the moment the
 * object appears.
 */
final class S3Multipart {
    private final S3AsyncClient client;
    private final S3Calls calls;
    private final S3StoreConfig config;
    private final StoreStats stats;

    S3Multipart(S3AsyncClient client, S3Calls calls, S3StoreConfig config, StoreStats stats) {
        this.client = client;
        this.calls = calls;
        this.config = config;
        this.stats = stats;
    }

    /**
     * Uploads {@code data} under {@code key}; {@code complete} sends the complete request built so
     * far (bucket, key, upload id, parts) with the caller's condition, given the attempt number.
     */
    CompletableFuture<String> upload(String key, byte[] data, Completer complete) {
        String objectKey = config.objectKey(key);
        return calls.call(StoreStats.Kind.CREATE_MULTIPART, key,
                n -> client.createMultipartUpload(b -> b.bucket(config.bucket()).key(objectKey)))
                .thenCompose(created -> {
                    String uploadId = created.uploadId();
                    List<CompletableFuture<CompletedPart>> parts = uploadParts(key, objectKey, uploadId, data);
                    return CompletableFuture.allOf(settled(parts))
                            .thenCompose(all -> {
                                List<CompletedPart> done = parts.stream().map(CompletableFuture::join).toList();
                                CompleteMultipartUploadRequest.Builder request = CompleteMultipartUploadRequest.builder()
                                        .bucket(config.bucket()).key(objectKey).uploadId(uploadId)
                                        .multipartUpload(m -> m.parts(done));
                                return calls.call(StoreStats.Kind.COMPLETE_MULTIPART, key, complete.attempts(request));
                            })
                            .thenApply(response -> Etags.unquote(response.eTag()))
                            .exceptionallyCompose(failure -> abort(key, objectKey, uploadId)
                                    .handle((aborted, abortFailure) -> {
                                        throw new java.util.concurrent.CompletionException(S3Errors.unwrap(failure));
                                    }));
                });
    }

    /** How the complete request is sent: the caller adds its condition and counts attempts. */
    interface Completer {
        IntFunction<CompletableFuture<CompleteMultipartUploadResponse>> attempts(CompleteMultipartUploadRequest.Builder request);
    }

    private List<CompletableFuture<CompletedPart>> uploadParts(String key, String objectKey, String uploadId, byte[] data) {
        List<CompletableFuture<CompletedPart>> parts = new ArrayList<>();
        long partSize = config.partSize();
        for (long off = 0; off < data.length; off += partSize) {
            int number = parts.size() + 1;
            int from = (int) off;
            int length = (int) Math.min(partSize, data.length - off);
            parts.add(calls.call(StoreStats.Kind.UPLOAD_PART, key, n -> {
                stats.out(length);
                // a fresh body per attempt; the bytes are not copied
                AsyncRequestBody body = AsyncRequestBody.fromByteBufferUnsafe(ByteBuffer.wrap(data, from, length).slice());
                return client.uploadPart(b -> b.bucket(config.bucket()).key(objectKey).uploadId(uploadId)
                        .partNumber(number).contentLength((long) length), body);
            }).thenApply(r -> CompletedPart.builder().partNumber(number).eTag(r.eTag()).build()));
        }
        return parts;
    }

    /** Futures that complete (normally) once each part has finished, well or not. */
    private static CompletableFuture<?>[] settled(List<CompletableFuture<CompletedPart>> parts) {
        return parts.stream().map(p -> p.handle((v, e) -> null)).toArray(CompletableFuture[]::new);
    }

    /** Best effort: a failed abort leaves parts for the bucket's lifecycle rule to clean up. */
    private CompletableFuture<Void> abort(String key, String objectKey, String uploadId) {
        return calls.call(StoreStats.Kind.ABORT_MULTIPART, key,
                n -> client.abortMultipartUpload(b -> b.bucket(config.bucket()).key(objectKey).uploadId(uploadId)))
                .handle((r, e) -> null);
    }
}
