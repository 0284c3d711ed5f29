package io.ublk.server.worker;

import io.ublk.blockcache.BlockTarget;
import io.ublk.server.io.QueueDescriptors;
import java.util.concurrent.CompletableFuture;

/**
 * One device queue as a worker serves it: where its requests come from (char device fd,
 * descriptor array), where they go (the target), and the range of the worker's request ids its
 * tags occupy ({@code base + tag}). Owned by the worker thread after attach.
 */
final class ServedQueue {
    final int devId;
    final int qid;
    final int depth;
    final int cdevFd;
    final QueueDescriptors descriptors;
    final BlockTarget target;
    /** Completes once every tag's FETCH was handed to the kernel (START_DEV may follow). */
    final CompletableFuture<Void> fetched;
    /** Completes once every tag was aborted by the kernel (after STOP_DEV): the queue is released. */
    final CompletableFuture<Void> finished;
    /** First request id of this queue in the worker's per-request arrays. */
    int base = -1;
    /** Tags the kernel still holds a command for, or that we are serving. */
    int live;
    /** Target throws not yet logged, and when the last report was (rate-limits the log, not the count). */
    long targetErrorsUnreported;
    boolean targetErrorReported;
    boolean droppedAnswerReported;
    /**
     * The device let go of this queue before the kernel released it: its fd and descriptors may be
     * closed, so nothing touches them; tags coming back are retired without a commit.
     */
    boolean detached;
    long targetErrorLoggedAt;

    ServedQueue(int devId, int qid, int depth, int cdevFd, QueueDescriptors descriptors, BlockTarget target,
            CompletableFuture<Void> fetched, CompletableFuture<Void> finished) {
        this.devId = devId;
        this.qid = qid;
        this.depth = depth;
        this.cdevFd = cdevFd;
        this.descriptors = descriptors;
        this.target = target;
        this.fetched = fetched;
        this.finished = finished;
    }

    @Override
    public String toString() {
        return "ublk" + devId + "/q" + qid;
    }
}
