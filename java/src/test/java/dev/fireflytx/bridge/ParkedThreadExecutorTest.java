package dev.fireflytx.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class ParkedThreadExecutorTest {

    private final ParkedThreadExecutor executor = new ParkedThreadExecutor();
    private final List<Thread> workers = new ArrayList<>();

    private Thread startWorker(String name) {
        Thread t = new Thread(executor::runWorker, name);
        t.setDaemon(true);
        t.start();
        workers.add(t);
        return t;
    }

    @AfterEach
    void stop() throws InterruptedException {
        executor.shutdownNow();
        for (Thread t : workers) {
            t.join(2_000);
            assertFalse(t.isAlive(), "worker did not return after shutdownNow");
        }
    }

    @Test
    void runsTasksOnTheThreadThatCalledRunWorker() throws Exception {
        startWorker("lent-1");
        Future<String> f = executor.submit(() -> Thread.currentThread().getName());
        assertEquals("lent-1", f.get(2, TimeUnit.SECONDS));
    }

    @Test
    void delayIsHonoured() throws Exception {
        startWorker("w");
        long start = System.nanoTime();
        ScheduledFuture<Long> f = executor.schedule(System::nanoTime, 150, TimeUnit.MILLISECONDS);
        long ranAt = f.get(2, TimeUnit.SECONDS);
        assertTrue(TimeUnit.NANOSECONDS.toMillis(ranAt - start) >= 150, "ran too early");
    }

    @Test
    void earlierDueTaskRunsFirst() throws Exception {
        List<String> order = Collections.synchronizedList(new ArrayList<>());
        ScheduledFuture<?> late = executor.schedule(() -> order.add("late"), 120, TimeUnit.MILLISECONDS);
        ScheduledFuture<?> early = executor.schedule(() -> order.add("early"), 40, TimeUnit.MILLISECONDS);
        startWorker("w");
        late.get(2, TimeUnit.SECONDS);
        early.get(2, TimeUnit.SECONDS);
        assertEquals(List.of("early", "late"), order);
    }

    @Test
    void tasksDueTogetherRunInSubmissionOrder() throws Exception {
        List<Integer> order = Collections.synchronizedList(new ArrayList<>());
        for (int i = 0; i < 200; i++) {
            int n = i;
            executor.execute(() -> order.add(n));
        }
        CountDownLatch done = new CountDownLatch(1);
        executor.execute(done::countDown);
        startWorker("w");
        assertTrue(done.await(2, TimeUnit.SECONDS));
        for (int i = 0; i < 200; i++) {
            assertEquals(i, order.get(i));
        }
    }

    @Test
    void aTaskDueACenturyAheadIsNeverQueuedYetCancelsLikeAnyOther() {
        ScheduledFuture<?> century = executor.schedule(() -> { }, EngineFacade.NO_LIMIT_MS, TimeUnit.MILLISECONDS);
        assertEquals(0, executor.queuedTaskCount(), "a century-long timeout was queued");
        assertFalse(century.isDone());
        assertTrue(century.getDelay(TimeUnit.DAYS) > 365L * 50);
        assertTrue(century.cancel(false));
        assertTrue(century.isCancelled());

        ScheduledFuture<?> hour = executor.schedule(() -> { }, 1, TimeUnit.HOURS);
        assertEquals(1, executor.queuedTaskCount(), "an hour-long delay must be queued");
        assertTrue(hour.cancel(false));
        assertEquals(0, executor.queuedTaskCount(), "a cancelled task stays queued");
    }

    @Test
    void aCenturyAheadTaskIsRejectedAfterShutdownLikeAnyOther() {
        executor.shutdown();
        assertThrows(RejectedExecutionException.class,
                () -> executor.schedule(() -> { }, EngineFacade.NO_LIMIT_MS, TimeUnit.MILLISECONDS));
    }

    @Test
    void cancelledTaskIsNotRun() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        startWorker("w");
        ScheduledFuture<?> f = executor.schedule(runs::incrementAndGet, 100, TimeUnit.MILLISECONDS);
        assertTrue(f.cancel(false));
        assertTrue(f.isCancelled());
        assertEquals(0, executor.queuedTaskCount(), "cancel removes the task from the queue");
        Thread.sleep(250);
        assertEquals(0, runs.get());
    }

    @Test
    void fixedRateTaskRepeatsUntilCancelled() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        CountDownLatch five = new CountDownLatch(5);
        startWorker("w");
        ScheduledFuture<?> f = executor.scheduleAtFixedRate(() -> {
            runs.incrementAndGet();
            five.countDown();
        }, 0, 10, TimeUnit.MILLISECONDS);
        assertTrue(five.await(2, TimeUnit.SECONDS));
        f.cancel(false);
        Thread.sleep(30);
        int after = runs.get();
        Thread.sleep(100);
        assertEquals(after, runs.get(), "still running after cancel");
    }

    @Test
    void fixedDelayTaskRepeatsUntilCancelled() throws Exception {
        List<Long> times = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch three = new CountDownLatch(3);
        startWorker("w");
        ScheduledFuture<?> f = executor.scheduleWithFixedDelay(() -> {
            times.add(System.nanoTime());
            three.countDown();
        }, 0, 30, TimeUnit.MILLISECONDS);
        assertTrue(three.await(2, TimeUnit.SECONDS));
        f.cancel(false);
        assertTrue(TimeUnit.NANOSECONDS.toMillis(times.get(2) - times.get(1)) >= 30);
    }

    @Test
    void throwingTaskDoesNotKillTheWorker() throws Exception {
        Thread worker = startWorker("w");
        Future<?> bad = executor.submit(() -> {
            throw new IllegalStateException("boom");
        });
        ExecutionException e = assertThrows(ExecutionException.class, () -> bad.get(2, TimeUnit.SECONDS));
        assertEquals("boom", e.getCause().getMessage());
        executor.execute(() -> {
            throw new Error("not even an Error stops the loop");
        });
        assertEquals("w", executor.submit(() -> Thread.currentThread().getName()).get(2, TimeUnit.SECONDS));
        assertTrue(worker.isAlive());
    }

    @Test
    void periodicTaskThatThrowsStopsRepeating() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        startWorker("w");
        ScheduledFuture<?> f = executor.scheduleAtFixedRate(() -> {
            runs.incrementAndGet();
            throw new IllegalStateException("once");
        }, 0, 5, TimeUnit.MILLISECONDS);
        assertThrows(ExecutionException.class, () -> f.get(2, TimeUnit.SECONDS));
        Thread.sleep(50);
        assertEquals(1, runs.get());
    }

    @Test
    void shutdownEndsEveryRunWorkerAndTerminates() throws Exception {
        Thread a = startWorker("a");
        Thread b = startWorker("b");
        AtomicInteger ran = new AtomicInteger();
        executor.execute(ran::incrementAndGet);
        ScheduledFuture<?> later = executor.schedule(ran::incrementAndGet, 1, TimeUnit.HOURS);
        Thread.sleep(50);
        executor.shutdown();
        a.join(1_000);
        b.join(1_000);
        assertFalse(a.isAlive());
        assertFalse(b.isAlive());
        assertTrue(executor.isShutdown());
        assertTrue(executor.awaitTermination(1, TimeUnit.SECONDS));
        assertTrue(executor.isTerminated());
        assertTrue(later.isCancelled(), "not-yet-due tasks are cancelled by shutdown");
        assertEquals(1, ran.get());
        assertThrows(RejectedExecutionException.class, () -> executor.execute(ran::incrementAndGet));
        // A worker arriving after shutdown returns at once.
        Thread late = startWorker("late");
        late.join(1_000);
        assertFalse(late.isAlive());
    }

    @Test
    void dueTasksStillRunAfterShutdown() throws Exception {
        AtomicInteger ran = new AtomicInteger();
        for (int i = 0; i < 3; i++) {
            executor.execute(ran::incrementAndGet);
        }
        executor.shutdown();
        assertFalse(executor.isTerminated());
        Thread w = startWorker("w");
        w.join(1_000);
        assertFalse(w.isAlive());
        assertEquals(3, ran.get());
        assertTrue(executor.isTerminated());
    }

    @Test
    void shutdownNowReturnsQueuedTasksWithoutRunningThem() throws Exception {
        AtomicInteger ran = new AtomicInteger();
        executor.execute(ran::incrementAndGet);
        executor.schedule(ran::incrementAndGet, 1, TimeUnit.HOURS);
        List<Runnable> notRun = executor.shutdownNow();
        assertEquals(2, notRun.size());
        Thread w = startWorker("w");
        w.join(1_000);
        assertFalse(w.isAlive());
        assertEquals(0, ran.get());
        assertTrue(executor.isTerminated());
    }
}
