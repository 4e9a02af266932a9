package dev.fireflytx.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.TimeoutException;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import reactor.core.publisher.Mono;

/**
 * {@code Schedulers.setFactory} is JVM-global, so surefire runs this class in a JVM of its own (see pom.xml).
 */
@Timeout(10)
class ReactorParallelInstallTest {

    private static final ParkedThreadExecutor EXECUTOR = new ParkedThreadExecutor();
    private static final Thread[] WORKERS = new Thread[2];

    @BeforeAll
    static void install() {
        ParkedThreadExecutor.installAsReactorParallel(EXECUTOR);
        for (int i = 0; i < WORKERS.length; i++) {
            WORKERS[i] = new Thread(EXECUTOR::runWorker, "lent-worker-" + i);
            WORKERS[i].setDaemon(true);
            WORKERS[i].start();
        }
    }

    @AfterAll
    static void shutdown() throws InterruptedException {
        EXECUTOR.shutdown();
        for (Thread t : WORKERS) {
            t.join(2_000);
        }
    }

    @Test
    void monoDelayRunsOnALentThread() {
        String thread = Mono.delay(Duration.ofMillis(30))
                .map(tick -> Thread.currentThread().getName())
                .block(Duration.ofSeconds(5));
        assertTrue(thread.startsWith("lent-worker-"), thread);
    }

    @Test
    void monoTimeoutFiresOnALentThread() {
        String thread = Mono.never()
                .timeout(Duration.ofMillis(30))
                .map(Object::toString)
                .onErrorResume(TimeoutException.class, e -> Mono.fromCallable(() -> Thread.currentThread().getName()))
                .block(Duration.ofSeconds(5));
        assertTrue(thread.startsWith("lent-worker-"), thread);
    }

    @Test
    void finishedBeforeTimeoutLeavesNoTimerBehind() {
        for (int i = 0; i < 100; i++) {
            assertEquals(i, Mono.just(i).timeout(Duration.ofHours(1)).block());
        }
        assertEquals(0, EXECUTOR.queuedTaskCount(), "cancelled timeout timers must leave the queue");
    }

    @Test
    void secondInstallIsRejected() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> ParkedThreadExecutor.installAsReactorParallel(new ParkedThreadExecutor()));
        assertTrue(e.getMessage().contains("already"), e.getMessage());
    }
}
