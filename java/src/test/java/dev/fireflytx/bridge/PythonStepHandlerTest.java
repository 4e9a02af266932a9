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

    private final List<String> wakes = new ArrayList<>();
    private final RunPump pump = new RunPump(() -> wakes.add("wake"));

    @Test
    void queuesARequestWithTheRunUnitAndANewAttemptAndDeliversTheAnswer() {
        PythonStepHandler handler = new PythonStepHandler("7", true, "step-7");
        RunContext ctx = new RunContext("cid", "saga", "42", pump);
        var first = handler.execute(null, ctx);
        var second = handler.execute(null, ctx);
        String[] lines = pump.drain().split("\n");
        assertEquals(2, lines.length);
        String[] a = lines[0].split(" ");
        String[] b = lines[1].split(" ");
        assertEquals(List.of("S42", "7"), List.of(a[0], a[1]));
        assertTrue(Long.parseLong(b[2]) > Long.parseLong(a[2]));
        assertEquals("", pump.exchange(a[2]));
        assertTrue(first.materialize().block(Duration.ofSeconds(1)).isOnComplete(), "answered: completes empty");
        assertTrue(pump.fail(b[2], "ValueError", "bad"));
        assertThrows(PythonStepException.class, () -> second.block(Duration.ofSeconds(1)));
        assertEquals(0, pump.pendingAttempts());
    }

    @Test
    void aContextThatIsNotFireflytxsBecomesAnErrorNotAThrow() {
        PythonStepHandler handler = new PythonStepHandler("1", true, "step-1");
        var plain = new org.fireflyframework.transactional.saga.core.SagaContext("cid", "saga");
        assertThrows(ClassCastException.class, () -> handler.execute(null, plain).block(Duration.ofSeconds(1)));
        assertThrows(ClassCastException.class, () -> handler.compensate(null, plain).block(Duration.ofSeconds(1)));
    }

    @Test
    void compensationIsANoOpWithoutACompensationAndARequestWithOne() {
        RunContext ctx = new RunContext("cid", "saga", "7", pump);
        assertNull(new PythonStepHandler("3", false, "step-3").compensate(null, ctx).block(Duration.ofSeconds(1)));
        assertEquals("", pump.drain());
        var compensation = new PythonStepHandler("3", true, "step-3").compensate(null, ctx);
        String line = pump.drain().trim();
        assertTrue(line.startsWith("C7 3 "), line);
        pump.exchange(line.split(" ")[2]);
        assertNull(compensation.block(Duration.ofSeconds(1)));
    }
}
