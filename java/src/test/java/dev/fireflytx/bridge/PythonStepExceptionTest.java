package dev.fireflytx.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class PythonStepExceptionTest {

    @Test
    void messageCombinesTypeAndText() {
        PythonStepException e = new PythonStepException("builtins.ValueError", "bad input", 12L);
        assertEquals("builtins.ValueError: bad input", e.getMessage());
        assertEquals("builtins.ValueError", e.getPythonType());
        assertEquals(12L, e.getErrorId());
    }

    @Test
    void messageIsNeverNull() {
        assertEquals("KeyError: ", new PythonStepException("KeyError", null, 1L).getMessage());
        assertEquals("KeyError: ", new PythonStepException("KeyError", "", 1L).getMessage());
        assertEquals("Exception: x", new PythonStepException(null, "x", 1L).getMessage());
    }

    @Test
    void carriesNoStackTraceAndNoSuppressed() {
        PythonStepException e = new PythonStepException("RuntimeError", "x", 1L);
        assertEquals(0, e.getStackTrace().length);
        e.addSuppressed(new IllegalStateException());
        assertEquals(0, e.getSuppressed().length);
    }
}
