package dev.fireflytx.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class RunPumpTest {

    private final AtomicInteger wakes = new AtomicInteger();
    private final RunPump pump = new RunPump(wakes::incrementAndGet);

    @Test
    void wakesPythonOnceForRequestsThatArriveWhileItSleeps() {
        pump.request('S', "1", "a", null);
        pump.request('S', "1", "b", null);
        pump.request('S', "2", "a", null);
        assertEquals(1, wakes.get());
        assertEquals(3, pump.drain().split("\n").length);
        pump.request('S', "3", "a", null);
        assertEquals(2, wakes.get());
    }

    @Test
    void requestsQueuedWhileAnswersAreAppliedComeBackFromTheSameCall() {
        var first = pump.request('S', "1", "a", null);
        first.subscribe(value -> { }, error -> { }, () -> pump.request('S', "1", "b", null));
        String key = pump.drain().trim().split(" ")[2];
        int before = wakes.get();
        String next = pump.exchange(key);
        assertTrue(next.startsWith("S1 b "), next);
        assertEquals(before, wakes.get(), "no wake-up while Python is draining");
    }

    @Test
    void startingARunNeedsNoWakeUp() {
        String lines = pump.during(() -> pump.request('S', "9", "a", null));
        assertTrue(lines.startsWith("S9 a "));
        assertEquals(0, wakes.get());
    }

    @Test
    void requestsQueuedWhileAFailureIsAppliedComeBackFromTheSameCall() {
        var first = pump.request('S', "1", "a", null);
        first.subscribe(value -> {}, error -> pump.request('C', "1", "z", null));
        String key = pump.drain().trim().split(" ")[2];
        int before = wakes.get();
        String next = pump.failAndDrain(key, "ValueError", "bad");
        assertTrue(next.startsWith("C1 z "), next);
        assertEquals(before, wakes.get(), "no wake-up while Python is draining");
        assertEquals(1, pump.pendingAttempts());
        pump.request('S', "2", "a", null);
        assertEquals(before + 1, wakes.get(), "a later request wakes Python again");
    }

    @Test
    void runEndsCarryTheirErrorAside() {
        IllegalStateException boom = new IllegalStateException("boom");
        pump.ended("4", null);
        pump.ended("5", boom);
        assertEquals("E4\nF5\n", pump.drain());
        assertSame(boom, pump.failure("5"));
        assertNull(pump.failure("5"));
    }

    @Test
    void requestsFromManyThreadsAreNeitherLostNorDoubled() throws Exception {
        int threads = 4;
        int each = 2_000;
        CountDownLatch done = new CountDownLatch(threads);
        for (int t = 0; t < threads; t++) {
            new Thread(() -> {
                for (int i = 0; i < each; i++) {
                    pump.request('S', "r", "u", null);
                }
                done.countDown();
            }).start();
        }
        int seen = 0;
        while (!done.await(1, TimeUnit.MILLISECONDS) || seen < threads * each) {
            String text = pump.drain();
            seen += text.isEmpty() ? 0 : text.split("\n").length;
        }
        assertEquals(threads * each, seen);
        assertEquals(threads * each, pump.pendingAttempts());
    }

    @Test
    void anUnknownAnswerIsIgnored() {
        assertEquals("", pump.exchange("12345 999"));
        assertEquals(false, pump.fail("777", "E", "m"));
        var future = pump.request('T', "1", "a", null);
        pump.exchange(pump.drain().trim().split(" ")[2]);
        assertEquals(Boolean.TRUE, future.block(Duration.ofSeconds(1)));
    }

    @Test
    void answeredSagaAttemptsCompleteEmptyAndTccPhasesWithAValue() {
        String[] kinds = {"S", "C", "T", "K", "X"};
        java.util.List<reactor.core.publisher.Mono<Object>> monos = new java.util.ArrayList<>();
        for (String kind : kinds) {
            monos.add(pump.request(kind.charAt(0), "1", "u", null));
        }
        StringBuilder keys = new StringBuilder();
        for (String line : pump.drain().trim().split("\n")) {
            keys.append(keys.length() == 0 ? "" : " ").append(line.split(" ")[2]);
        }
        pump.exchange(keys.toString());
        for (int i = 0; i < kinds.length; i++) {
            var signal = monos.get(i).materialize().block(Duration.ofSeconds(1));
            boolean saga = kinds[i].equals("S") || kinds[i].equals("C");
            assertTrue(saga ? signal.isOnComplete() : signal.isOnNext(), kinds[i] + ": " + signal);
            if (!saga) {
                assertEquals(Boolean.TRUE, signal.get());
            }
        }
    }
}
