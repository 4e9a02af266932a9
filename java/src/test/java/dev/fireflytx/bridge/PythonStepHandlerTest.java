package dev.fireflytx.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

class PythonStepHandlerTest {

    private static final class Recorder implements PythonStepHandler.Starter {
        final List<String> runs = new ArrayList<>();
        final List<String> attempts = new ArrayList<>();
        StepFuture last;
        RuntimeException fail;

        @Override
        public void start(String runKey, String attemptKey, StepFuture future) {
            if (fail != null) {
                throw fail;
            }
            runs.add(runKey);
            attempts.add(attemptKey);
            last = future;
        }

        @Override
        public void compensate(String runKey, StepFuture future) {
            if (fail != null) {
                throw fail;
            }
            runs.add(runKey);
            last = future;
        }
    }

    @Test
    void passesTheRunIdAndANewAttemptIdAndDeliversTheCompletion() {
        Recorder recorder = new Recorder();
        PythonStepHandler handler = new PythonStepHandler(recorder, true, null);
        RunContext ctx = new RunContext("cid", "saga", "42");
        var first = handler.execute(null, ctx);
        recorder.last.complete("done");
        assertEquals("done", first.block(Duration.ofSeconds(1)));
        handler.execute(null, ctx);
        assertEquals(List.of("42", "42"), recorder.runs);
        assertTrue(Long.parseLong(recorder.attempts.get(1)) > Long.parseLong(recorder.attempts.get(0)));
        assertEquals(recorder.attempts.get(1), recorder.last.key());
    }

    @Test
    void aThrowingStarterBecomesAnErrorNotAThrow() {
        Recorder recorder = new Recorder();
        recorder.fail = new IllegalStateException("python side failed");
        PythonStepHandler handler = new PythonStepHandler(recorder, true, null);
        RunContext ctx = new RunContext("cid", "saga", "1");
        var execution = handler.execute(null, ctx);
        assertThrows(IllegalStateException.class, () -> execution.block(Duration.ofSeconds(1)));
        var compensation = handler.compensate(null, ctx);
        assertThrows(IllegalStateException.class, () -> compensation.block(Duration.ofSeconds(1)));
    }

    @Test
    void compensationIsANoOpWithoutACompensationAndCompletesEmptyWithOne() {
        Recorder recorder = new Recorder();
        RunContext ctx = new RunContext("cid", "saga", "7");
        assertNull(new PythonStepHandler(recorder, false, null).compensate(null, ctx).block(Duration.ofSeconds(1)));
        assertTrue(recorder.runs.isEmpty());
        var compensation = new PythonStepHandler(recorder, true, null).compensate(null, ctx);
        recorder.last.complete(Boolean.TRUE);
        assertNull(compensation.block(Duration.ofSeconds(1)));
        assertEquals(List.of("7"), recorder.runs);
    }
}
