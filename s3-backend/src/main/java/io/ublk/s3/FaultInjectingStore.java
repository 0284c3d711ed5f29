package io.ublk.s3;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;

/**
 * Wraps a store and makes it fail on purpose, for tests of what sits above a store (the cache):
 * the next N calls of an operation fail, before reaching the store or after it applied them (the
 * answer lost, as on a dropped connection); any call fails with a probability (seeded, so a
 * failing run repeats), of every operation or of some; or calls of an operation hang until
 * {@link #resume}. Injected failures are plain {@link StoreException}s (never a subclass such as
 * {@link PreconditionFailedException}, which would say the store decided) whose message starts
 * with {@code injected failure} (not applied) or {@code injected lost answer} (the store's own
 * answer, success or failure, is hidden; the message says which, and a failure is the cause).
 * Both put overloads are {@link Op#PUT}; the parts put reaches the store as parts.
 */
public final class FaultInjectingStore implements ObjectStore {

    /** The operations of {@link ObjectStore}, as faults name them. */
    public enum Op { GET, GET_RANGE, PUT, PUT_IF_ABSENT, PUT_IF_MATCH, DELETE, DELETE_ALL, LIST }

    private final ObjectStore delegate;
    private final int[] failBefore = new int[Op.values().length];
    private final int[] failAfter = new int[Op.values().length];
    private final EnumSet<Op> hanging = EnumSet.noneOf(Op.class);
    private final List<Runnable> parked = new ArrayList<>();
    private final EnumSet<Op> randomOps = EnumSet.noneOf(Op.class);
    private Random random;
    private double probability;
    private int injected;

    public FaultInjectingStore(ObjectStore delegate) {
        this.delegate = delegate;
    }

    /** The next {@code n} calls of {@code op} fail without reaching the store. */
    public synchronized FaultInjectingStore failNext(Op op, int n) {
        failBefore[op.ordinal()] += n;
        return this;
    }

    /** The next {@code n} calls of {@code op} reach the store, which applies them, and then fail. */
    public synchronized FaultInjectingStore loseNextAnswers(Op op, int n) {
        failAfter[op.ordinal()] += n;
        return this;
    }

    /** Every call fails (without reaching the store) with {@code probability}; 0 turns it off. */
    public FaultInjectingStore failRandomly(double probability, long seed) {
        return failRandomly(probability, seed, EnumSet.allOf(Op.class));
    }

    /** Calls of the operations named fail (without reaching the store) with {@code probability}; others never. */
    public FaultInjectingStore failRandomly(double probability, long seed, Op first, Op... more) {
        return failRandomly(probability, seed, EnumSet.of(first, more));
    }

    private synchronized FaultInjectingStore failRandomly(double probability, long seed, EnumSet<Op> ops) {
        if (probability < 0 || probability > 1) {
            throw new IllegalArgumentException("probability must be in [0, 1]: " + probability);
        }
        this.probability = probability;
        this.random = new Random(seed);
        randomOps.clear();
        randomOps.addAll(ops);
        return this;
    }

    /** Calls of {@code op} from now on wait, not reaching the store, until {@link #resume}. */
    public synchronized FaultInjectingStore hang(Op op) {
        hanging.add(op);
        return this;
    }

    /** Stops hanging and sends the waiting calls on to the store, in the order they came. */
    public void resume() {
        List<Runnable> go;
        synchronized (this) {
            hanging.clear();
            go = List.copyOf(parked);
            parked.clear();
        }
        go.forEach(Runnable::run);
    }

    /** Failures injected so far. */
    public synchronized int injected() {
        return injected;
    }

    /** Calls waiting for {@link #resume}. */
    public synchronized int hung() {
        return parked.size();
    }

    private <T> CompletableFuture<T> call(Op op, String key, Supplier<CompletableFuture<T>> real) {
        boolean loseAnswer;
        synchronized (this) {
            if (hanging.contains(op)) {
                CompletableFuture<T> later = new CompletableFuture<>();
                parked.add(() -> real.get().whenComplete((v, e) -> {
                    if (e != null) {
                        later.completeExceptionally(e);
                    } else {
                        later.complete(v);
                    }
                }));
                return later;
            }
            if (failBefore[op.ordinal()] > 0
                    || (probability > 0 && randomOps.contains(op) && random.nextDouble() < probability)) {
                failBefore[op.ordinal()] = Math.max(0, failBefore[op.ordinal()] - 1);
                injected++;
                return CompletableFuture.failedFuture(new StoreException("injected failure: " + op + " " + key));
            }
            loseAnswer = failAfter[op.ordinal()] > 0;
            if (loseAnswer) {
                failAfter[op.ordinal()]--;
                injected++;
            }
        }
        CompletableFuture<T> answer = real.get();
        if (!loseAnswer) {
            return answer;
        }
        return answer.handle((v, e) -> {
            if (e == null) {
                throw new StoreException("injected lost answer: " + op + " " + key + " (applied)");
            }
            Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
            throw new StoreException("injected lost answer: " + op + " " + key + " (the store failed it: "
                    + cause.getMessage() + ")", cause);
        });
    }

    @Override
    public CompletableFuture<StoredObject> get(String key) {
        return call(Op.GET, key, () -> delegate.get(key));
    }

    @Override
    public CompletableFuture<byte[]> getRange(String key, long offset, int length) {
        return call(Op.GET_RANGE, key, () -> delegate.getRange(key, offset, length));
    }

    @Override
    public CompletableFuture<String> put(String key, byte[] data) {
        return call(Op.PUT, key, () -> delegate.put(key, data));
    }

    /** Overridden so the parts go on as they are: the default would copy them into one array. */
    @Override
    public CompletableFuture<String> put(String key, List<ByteBuffer> parts) {
        return call(Op.PUT, key, () -> delegate.put(key, parts));
    }

    @Override
    public CompletableFuture<String> putIfAbsent(String key, byte[] data) {
        return call(Op.PUT_IF_ABSENT, key, () -> delegate.putIfAbsent(key, data));
    }

    @Override
    public CompletableFuture<String> putIfMatch(String key, byte[] data, String etag) {
        return call(Op.PUT_IF_MATCH, key, () -> delegate.putIfMatch(key, data, etag));
    }

    @Override
    public CompletableFuture<Void> delete(String key) {
        return call(Op.DELETE, key, () -> delegate.delete(key));
    }

    @Override
    public CompletableFuture<Void> deleteAll(List<String> keys) {
        return call(Op.DELETE_ALL, keys.size() + " keys", () -> delegate.deleteAll(keys));
    }

    @Override
    public CompletableFuture<ListPage> list(String prefix, String continuation, int maxKeys) {
        return call(Op.LIST, prefix, () -> delegate.list(prefix, continuation, maxKeys));
    }

    @Override
    public String describe() {
        return "faulty " + delegate.describe();
    }

    @Override
    public void close() {
        delegate.close();
    }
}
