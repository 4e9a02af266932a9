package dev.fireflytx.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

class PythonLogAppenderTest {

    private static final String NAME = "dev.fireflytx.bridge.test.AppenderProbe";

    @BeforeEach
    void clean() {
        PythonLogAppender.resetForTests();
    }

    @AfterEach
    void restore() {
        PythonLogAppender.setLevel(NAME, null);
        PythonLogAppender.resetForTests();
    }

    /** Polls until an event from the probe logger arrives (other loggers may interleave). */
    private static String[] nextProbeEvent() {
        for (int i = 0; i < 100; i++) {
            String[] e = PythonLogAppender.poll(50);
            if (e != null && NAME.equals(e[1])) {
                return e;
            }
        }
        return null;
    }

    @Test
    void shippedConfigurationRoutesEventsToTheQueue() {
        Logger log = LoggerFactory.getLogger(NAME);
        log.info("hello {}", 42);
        String[] e = nextProbeEvent();
        assertNotNull(e);
        assertEquals("INFO", e[0]);
        assertEquals(NAME, e[1]);
        assertEquals("hello 42", e[2]);
        assertEquals(Thread.currentThread().getName(), e[3]);
        assertNull(e[4]);
    }

    @Test
    void throwableTextHasClassMessageAndFrames() {
        LoggerFactory.getLogger(NAME).error("failed", new IllegalStateException("inner problem"));
        String[] e = nextProbeEvent();
        assertNotNull(e);
        assertEquals("ERROR", e[0]);
        assertTrue(e[4].startsWith("java.lang.IllegalStateException: inner problem"), e[4]);
        assertTrue(e[4].contains("at dev.fireflytx.bridge.PythonLogAppenderTest"), e[4]);
    }

    @Test
    void eventsOutsideARunCarryNoTags() {
        LoggerFactory.getLogger(NAME).info("untagged");
        String[] e = nextProbeEvent();
        assertNotNull(e);
        assertNull(e[5]);
        assertNull(e[6]);
        assertNull(e[7]);
    }

    @Test
    void continuationOfACompletedStepFutureIsTaggedWithItsRun() {
        Logger log = LoggerFactory.getLogger(NAME);
        StepFuture future = new StepFuture("1", null, new String[] {"CID-1", "orders", "charge"});
        future.mono().subscribe(value -> log.info("continued with {}", value));
        String[] outer = RunTags.enter(new String[] {"CID-0", "other", null});
        try {
            future.complete("ok");
            log.info("after");
        } finally {
            RunTags.restore(outer);
        }
        log.info("outside");
        String[] continued = nextProbeEvent();
        assertNotNull(continued);
        assertEquals("continued with ok", continued[2]);
        assertEquals("CID-1", continued[5]);
        assertEquals("orders", continued[6]);
        assertEquals("charge", continued[7]);
        String[] after = nextProbeEvent();
        assertNotNull(after);
        assertEquals("CID-0", after[5]);
        assertNull(after[7]);
        assertNull(nextProbeEvent()[5]);
        assertNull(RunTags.current());
    }

    @Test
    void failedStepFutureTagsTheContinuationToo() {
        Logger log = LoggerFactory.getLogger(NAME);
        StepFuture future = new StepFuture("2", null, new String[] {"CID-2", "orders", "reserve"});
        future.mono().subscribe(value -> { }, error -> log.warn("failed: {}", error.getMessage()));
        future.failWithPython("ValueError", "declined", 0);
        String[] e = nextProbeEvent();
        assertNotNull(e);
        assertEquals("failed: ValueError: declined", e[2]);
        assertEquals("CID-2", e[5]);
        assertEquals("reserve", e[7]);
    }

    @Test
    void pollReturnsNullOnTimeout() {
        assertNull(PythonLogAppender.poll(10));
    }

    /** The probe logger's "level message" pairs in a batch from {@code take}, in order (others may interleave). */
    private static List<String> probeEvents(String text) {
        String[] flat = LogBatches.fields(text);
        assertEquals(0, flat.length % PythonLogAppender.FIELDS);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < flat.length; i += PythonLogAppender.FIELDS) {
            if (NAME.equals(flat[i + 1])) {
                out.add(flat[i] + " " + flat[i + 2]);
            }
        }
        return out;
    }

    @Test
    void takeReturnsEverythingQueuedDuringTheLingerFlattenedInOrder() throws InterruptedException {
        Logger log = LoggerFactory.getLogger(NAME);
        log.info("first");
        Thread late = new Thread(() -> {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            log.warn("late");
        });
        late.start();
        String text = PythonLogAppender.take(100, 300, 100);
        late.join();
        assertEquals(List.of("INFO first", "WARN late"), probeEvents(text));
    }

    @Test
    void takeHonoursItsMaximumAndLeavesTheRest() {
        Logger log = LoggerFactory.getLogger(NAME);
        for (int i = 0; i < 5; i++) {
            log.info("event {}", i);
        }
        String[] two = LogBatches.fields(PythonLogAppender.take(0, 0, 2));
        assertEquals(2 * PythonLogAppender.FIELDS, two.length);
        List<String> rest = probeEvents(PythonLogAppender.take(0, 0, 100));
        assertEquals(List.of("INFO event 2", "INFO event 3", "INFO event 4"), rest.subList(rest.size() - 3, rest.size()));
    }

    @Test
    void takeReturnsNothingOnTimeout() {
        assertEquals("", PythonLogAppender.take(10, 10, 100));
    }

    @Test
    void takeKeepsNullsEmptyFieldsAndTextWithTheSeparatorCharacters() {
        Logger log = LoggerFactory.getLogger(NAME);
        log.warn("");
        log.warn("a\u0000b\u0001c", new IllegalStateException("boom"));
        String[] flat = LogBatches.fields(PythonLogAppender.take(0, 0, 100));
        List<String[]> probe = new ArrayList<>();
        for (int i = 0; i < flat.length; i += PythonLogAppender.FIELDS) {
            if (NAME.equals(flat[i + 1])) {
                probe.add(Arrays.copyOfRange(flat, i, i + PythonLogAppender.FIELDS));
            }
        }
        assertEquals(2, probe.size());
        assertEquals("", probe.get(0)[2]);
        assertNull(probe.get(0)[4], "no throwable: the field is null, not empty");
        assertNull(probe.get(0)[5], "outside a run: no correlation id");
        assertEquals("a\uFFFDb\uFFFDc", probe.get(1)[2]);
        assertTrue(probe.get(1)[4].contains("IllegalStateException: boom"), probe.get(1)[4]);
    }

    @Test
    void fullQueueDropsAndCounts() {
        Logger log = LoggerFactory.getLogger(NAME);
        for (int i = 0; i < PythonLogAppender.CAPACITY + 5; i++) {
            log.info("event {}", i);
        }
        assertEquals(5, PythonLogAppender.droppedCount());
        assertEquals("event 0", PythonLogAppender.poll(0)[2]);
    }

    @Test
    void setLevelChangesWhatIsQueued() {
        Logger log = LoggerFactory.getLogger(NAME);
        PythonLogAppender.setLevel(NAME, "WARNING");
        log.info("dropped by level");
        log.warn("kept");
        assertEquals("kept", nextProbeEvent()[2]);

        PythonLogAppender.setLevel(NAME, "debug");
        log.debug("debug now visible");
        assertEquals("debug now visible", nextProbeEvent()[2]);

        assertThrows(IllegalArgumentException.class, () -> PythonLogAppender.setLevel(NAME, "LOUD"));
        assertThrows(IllegalArgumentException.class, () -> PythonLogAppender.setLevel("ROOT", null));
    }

    @Test
    void rootLevelCanBeChanged() {
        PythonLogAppender.setLevel("ROOT", "ERROR");
        try {
            LoggerFactory.getLogger("some.other.Logger").warn("hidden");
            assertNull(PythonLogAppender.poll(20));
        } finally {
            PythonLogAppender.setLevel("ROOT", "INFO");
        }
    }
}
