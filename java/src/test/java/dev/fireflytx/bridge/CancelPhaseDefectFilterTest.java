package dev.fireflytx.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class CancelPhaseDefectFilterTest {

    private static final String ORCHESTRATOR = "org.fireflyframework.transactional.tcc.engine.TccExecutionOrchestrator";
    private static final String ENGINE = "org.fireflyframework.transactional.tcc.engine.TccEngine";

    @BeforeEach
    void clean() {
        PythonLogAppender.resetForTests();
    }

    /** An exception thrown the way the engine's cancel phase throws it: reversing an immutable list. */
    private static UnsupportedOperationException defect() {
        try {
            Collections.reverse(List.of("p1", "p2"));
        } catch (UnsupportedOperationException e) {
            StackTraceElement[] real = e.getStackTrace();
            List<StackTraceElement> frames = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                frames.add(real[i]); // uoe, set, swap, reverse
            }
            frames.add(new StackTraceElement(ORCHESTRATOR, "executeCancelPhase", "TccExecutionOrchestrator.java", 328));
            frames.add(new StackTraceElement("reactor.core.publisher.MonoFlatMap$FlatMapMain", "onNext", null, 132));
            e.setStackTrace(frames.toArray(StackTraceElement[]::new));
            return e;
        }
        throw new AssertionError("List.of(...) became mutable");
    }

    /** "logger: message" of every event that reached the queue, in order. */
    private static List<String> queued() {
        List<String> out = new ArrayList<>();
        String[] flat = LogBatches.fields(PythonLogAppender.take(0, 0, 1000));
        for (int i = 0; i < flat.length; i += PythonLogAppender.FIELDS) {
            out.add(flat[i + 1] + ": " + flat[i + 2]);
        }
        return out;
    }

    @Test
    void recognisesTheCancelPhaseFailureOnly() {
        assertTrue(CancelPhaseDefectFilter.isCancelPhaseDefect(defect()));
        assertFalse(CancelPhaseDefectFilter.isCancelPhaseDefect(new UnsupportedOperationException("elsewhere")));
        assertFalse(CancelPhaseDefectFilter.isCancelPhaseDefect(new IllegalStateException("not this one")));
        assertFalse(CancelPhaseDefectFilter.isCancelPhaseDefect(null));
    }

    @Test
    void theShippedConfigurationDropsTheEnginesTwoLinesAboutIt() {
        LoggerFactory.getLogger(ORCHESTRATOR).error("TCC transaction '{}' failed with unexpected error", "t", defect());
        LoggerFactory.getLogger(ENGINE).error("TCC transaction 't' failed with error", defect());
        LoggerFactory.getLogger(ENGINE).error("TCC transaction 't' failed with error", (Object) defect());
        assertEquals(List.of(), queued().stream().filter(line -> line.startsWith("org.firefly")).toList());
    }

    @Test
    void everyOtherLineStillReachesPython() {
        LoggerFactory.getLogger(ORCHESTRATOR).error("TRY failed for participant '{}'", "p3", new IllegalStateException("no"));
        LoggerFactory.getLogger(ORCHESTRATOR).error("an unrelated unsupported operation", new UnsupportedOperationException());
        LoggerFactory.getLogger(ENGINE).warn("a warning that carries it", defect());
        LoggerFactory.getLogger("dev.fireflytx.bridge.test.Elsewhere").error("another logger", defect());
        List<String> lines = queued();
        assertTrue(lines.contains(ORCHESTRATOR + ": TRY failed for participant 'p3'"), lines.toString());
        assertTrue(lines.contains(ORCHESTRATOR + ": an unrelated unsupported operation"), lines.toString());
        assertTrue(lines.contains(ENGINE + ": a warning that carries it"), lines.toString());
        assertTrue(lines.contains("dev.fireflytx.bridge.test.Elsewhere: another logger"), lines.toString());
    }
}
