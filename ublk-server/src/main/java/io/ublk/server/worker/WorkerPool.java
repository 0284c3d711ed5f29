package io.ublk.server.worker;

import io.ublk.server.cpu.CpuSet;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The K pinned workers of this process and the placement of device queues on them: a queue goes
 * to the least-loaded worker whose CPU is in the queue's blk-mq CPU set (so completions stay on
 * the CPU that issued the I/O), else to the least-loaded worker of all.
 */
public final class WorkerPool implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WorkerPool.class);

    private final List<Worker> workers;
    private final WorkerConfig config;

    private WorkerPool(List<Worker> workers, WorkerConfig config) {
        this.workers = workers;
        this.config = config;
    }

    /**
     * Starts {@code count} workers pinned round-robin to the CPUs this process may run on
     * ({@code count <= 0}: one per such CPU), and waits until each has its ring and pool.
     */
    public static WorkerPool start(int count, WorkerConfig config) {
        BitSet allowed = CpuSet.allowed();
        int[] cpus = allowed.stream().toArray();
        int k = count > 0 ? count : cpus.length;
        List<Worker> workers = new ArrayList<>();
        List<CompletableFuture<Void>> started = new ArrayList<>();
        for (int i = 0; i < k; i++) {
            Worker w = new Worker(i, cpus[i % cpus.length], config);
            workers.add(w);
            started.add(w.start());
        }
        WorkerPool pool = new WorkerPool(List.copyOf(workers), config);
        try {
            CompletableFuture.allOf(started.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            pool.close();
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new IllegalStateException("workers failed to start: " + cause.getMessage(), cause);
        }
        LOG.info("{} workers on cpus {}; bounce pool {} x {} bytes each ({} MiB in all)", k, allowed,
                config.poolSlots(), config.slotSize(), (long) k * config.poolSlots() * config.slotSize() >> 20);
        return pool;
    }

    public WorkerConfig config() {
        return config;
    }

    public List<Worker> workers() {
        return workers;
    }

    /**
     * Chooses the worker for a queue of {@code depth} tags whose blk-mq CPU set is
     * {@code queueCpus}, and counts the tags against it.
     */
    public synchronized Worker place(BitSet queueCpus, int depth) {
        int[] cpus = new int[workers.size()];
        int[] loads = new int[workers.size()];
        for (int i = 0; i < cpus.length; i++) {
            cpus[i] = workers.get(i).cpu();
            loads[i] = workers.get(i).load();
        }
        Worker w = workers.get(Placement.choose(cpus, loads, queueCpus));
        w.addLoad(depth);
        return w;
    }

    /** Gives back a placement that never became an attach (the queue was not handed to {@code w}). */
    public void unplace(Worker w, int depth) {
        w.addLoad(-depth);
    }

    /**
     * Leaves every queue of every worker to the kernel for a later server ({@link Worker#leave}):
     * each worker drains the requests at its targets for at most {@code drain}, closes its ring
     * (the kernel then quiesces the devices, their I/O queued) and exits. Waits for the threads to
     * exit, a bounded time. After this the pool serves nothing; {@link #close} has nothing left to do.
     *
     * @return the workers that did not exit in time (their rings, and the devices on them, stay
     *     until they do or the process exits); empty when all left
     */
    public List<Worker> leave(java.time.Duration drain) {
        List<CompletableFuture<Boolean>> leaving = new ArrayList<>();
        for (Worker w : workers) {
            leaving.add(w.leave(drain));
        }
        long until = System.nanoTime() + drain.toNanos() + TimeUnit.SECONDS.toNanos(10);
        List<Worker> stuck = new ArrayList<>();
        for (int i = 0; i < workers.size(); i++) {
            Worker w = workers.get(i);
            try {
                long left = Math.max(0, until - System.nanoTime());
                leaving.get(i).get(left, TimeUnit.NANOSECONDS);
                w.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(Math.max(0, until - System.nanoTime()))));
            } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
                // judged below by whether the thread is gone
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            if (!w.hasLeft()) {
                LOG.error("worker {} did not leave within {} ms: its ring stays open, so its devices do not quiesce"
                        + " until it exits", w.index(), drain.toMillis() + 10_000);
                stuck.add(w);
            }
        }
        return stuck;
    }

    /** Stops every worker once its queues are released; waits a bounded time. */
    @Override
    public void close() {
        workers.forEach(Worker::requestStop);
        for (Worker w : workers) {
            try {
                w.join(10_000);
                if (w.isAlive()) {
                    LOG.warn("worker {} did not stop within 10 s", w.index());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
