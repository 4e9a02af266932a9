package dev.fireflytx.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.Test;

import reactor.core.Disposable;

class StepFutureTest {

    @Test
    void cancellingTheMonoNotifiesTheListenerOnce() {
        List<String> cancelled = new CopyOnWriteArrayList<>();
        StepFuture future = new StepFuture("42", cancelled::add);
        Disposable subscription = future.mono().subscribe();
        subscription.dispose();
        assertTrue(future.isCancelled());
        assertEquals(List.of("42"), cancelled);

        assertTrue(future.cancel(true), "cancel on a cancelled future still reports true");
        assertFalse(future.succeed("late"));
        assertEquals(List.of("42"), cancelled, "listener must not be told twice");
    }

    @Test
    void completingDeliversThroughTheMono() {
        List<String> cancelled = new CopyOnWriteArrayList<>();
        StepFuture future = new StepFuture("1", cancelled::add);
        assertTrue(future.succeed("value"));
        assertEquals("value", future.mono().block(Duration.ofSeconds(1)));
        assertFalse(future.cancel(true), "a completed future cannot be cancelled");
        assertTrue(cancelled.isEmpty());
    }

    @Test
    void completingLaterWakesASubscriber() {
        StepFuture future = new StepFuture("2", null);
        new Thread(() -> future.succeed(7)).start();
        assertEquals(7, future.mono().block(Duration.ofSeconds(2)));
    }

    @Test
    void failingDeliversTheErrorThroughTheMono() {
        StepFuture future = new StepFuture("3", id -> { });
        PythonStepException error = new PythonStepException("ValueError", "bad", 9L);
        assertTrue(future.fail(error));
        RuntimeException thrown = assertThrows(RuntimeException.class, () -> future.mono().block(Duration.ofSeconds(1)));
        assertSame(error, thrown);
    }

    @Test
    void aThrowingListenerIsIgnored() {
        StepFuture future = new StepFuture("4", id -> {
            throw new IllegalStateException("listener broke");
        });
        assertTrue(future.cancel(false));
        assertTrue(future.isCancelled());
    }

    @Test
    void failWithPythonDeliversAPythonStepException() {
        StepFuture future = new StepFuture("3", null);
        assertTrue(future.failWithPython("KeyError", "missing", 3));
        PythonStepException error = assertThrows(
                PythonStepException.class, () -> future.mono().block(Duration.ofSeconds(1)));
        assertEquals("KeyError", error.getPythonType());
        assertEquals(3, error.getErrorId());
        assertFalse(future.failWithPython("KeyError", "again", 3));
    }
}
