package io.ublk.s3;

import static io.ublk.s3.ObjectStoreContractTest.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ublk.s3.FaultInjectingStore.Op;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FaultInjectingStoreTest {
    @TempDir
    Path root;
    private LocalObjectStore real;
    private FaultInjectingStore faulty;

    @BeforeEach
    void open() {
        real = new LocalObjectStore(root);
        faulty = new FaultInjectingStore(real);
    }

    @AfterEach
    void close() {
        faulty.close();
    }

    @Test
    void failsTheNextCallsOfAnOperationWithoutApplyingThem() {
        faulty.failNext(Op.PUT, 2);
        assertThatThrownBy(() -> await(faulty.put("k", new byte[1]))).isInstanceOf(StoreException.class)
                .hasMessageStartingWith("injected");
        assertThatThrownBy(() -> await(faulty.put("k", new byte[1]))).isInstanceOf(StoreException.class);
        assertThatThrownBy(() -> await(real.get("k"))).isInstanceOf(ObjectNotFoundException.class);
        await(faulty.put("k", new byte[1]));
        await(faulty.get("k"));
        assertThat(faulty.injected()).isEqualTo(2);
    }

    @Test
    void losesAnswersAfterApplying() {
        faulty.loseNextAnswers(Op.PUT_IF_ABSENT, 1);
        assertThatThrownBy(() -> await(faulty.putIfAbsent("gen", new byte[] {1})))
                .isInstanceOf(StoreException.class).hasMessageContaining("applied");
        assertThat(await(real.get("gen")).data()).containsExactly(1);
        assertThatThrownBy(() -> await(faulty.putIfAbsent("gen", new byte[] {2})))
                .isInstanceOf(PreconditionFailedException.class);
    }

    @Test
    void failsRandomlyAndRepeatably() {
        int[] failures = new int[2];
        for (int run = 0; run < 2; run++) {
            faulty.failRandomly(0.3, 42);
            for (int i = 0; i < 100; i++) {
                if (faulty.put("r/" + i, new byte[1]).handle((v, e) -> e != null).join()) {
                    failures[run]++;
                }
            }
        }
        assertThat(failures[0]).isEqualTo(failures[1]).isBetween(15, 45);
        faulty.failRandomly(0, 0);
        await(faulty.put("r/x", new byte[1]));
    }

    @Test
    void hangsUntilResumed() {
        faulty.hang(Op.GET);
        await(faulty.put("k", new byte[] {7}));
        CompletableFuture<StoredObject> get = faulty.get("k");
        assertThat(get).isNotDone();
        assertThat(faulty.hung()).isEqualTo(1);
        faulty.resume();
        assertThat(await(get).data()).containsExactly(7);
    }
}
