package dev.fireflytx.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.fireflyframework.transactional.saga.core.SagaContext;
import org.fireflyframework.transactional.saga.engine.SagaEngine;
import org.fireflyframework.transactional.saga.engine.step.StepHandler;
import org.fireflyframework.transactional.saga.registry.SagaDefinition;
import org.fireflyframework.transactional.saga.registry.StepDefinition;
import org.junit.jupiter.api.Test;

import reactor.core.publisher.Mono;

class SagaRunsTest {

    /** A saga of one step, {@code a}, whose handler adds {@code runKey/correlationId/sagaName} to {@code seen}. */
    private static SagaDefinition oneStep(String name, List<String> seen) {
        StepHandler<Object, Object> handler = new StepHandler<>() {
            @Override
            public Mono<Object> execute(Object input, SagaContext ctx) {
                RunContext run = (RunContext) ctx;
                seen.add(run.runKey + "/" + run.correlationId() + "/" + run.sagaName());
                return Mono.just("done");
            }
        };
        SagaDefinition definition = new SagaDefinition(name, null, null, 0);
        StepDefinition step = new StepDefinition(
                "a", null, List.of(), 0, Duration.ofMillis(10), Duration.ZERO, null, false, 0.5, false, null);
        step.handler = handler;
        definition.steps.put("a", step);
        return definition;
    }

    @Test
    void runsTheSagaWithARunContextAndReportsItsEndUnderTheKey() throws Exception {
        List<String> seen = new ArrayList<>();
        SagaDefinition definition = oneStep("runs-test", seen);

        RunPump pump = new RunPump(() -> {});
        String lines = SagaRuns.start(
                new SagaEngine(null, new NoOpSagaEvents()), definition, "cid-9", "run-9", pump);

        // The step answered synchronously, so the run ended inside start: its end rides back on the return value.
        assertEquals("Erun-9\n", lines);
        assertEquals(List.of("run-9/cid-9/runs-test"), seen);
    }

    @Test
    void startLinesRunTheirSagasAndAStartThatFailsEndsOnlyItsOwnRun() throws Exception {
        List<String> seen = new ArrayList<>();
        SagaDefinition definition = oneStep("lines-test", seen);
        RunPump pump = new RunPump(() -> {});
        String saga = pump.addLauncher(SagaRuns.launcher(new SagaEngine(null, new NoOpSagaEvents()), definition));
        IllegalStateException refused = new IllegalStateException("refused");
        String refusing = pump.addLauncher((correlationId, runKey, p) -> {
            throw refused;
        });

        String lines = pump.exchangeAndStart("", String.join("\n",
                saga + " 1 order 42 for ann",
                refusing + " 2 cid-2",
                "999 3 cid-3",
                saga + " 4 cid-4"));

        // Correlation ids keep their spaces; the refused start and the unknown launcher end only their runs.
        assertEquals(List.of("1/order 42 for ann/lines-test", "4/cid-4/lines-test"), seen);
        assertEquals("E1\nF2\nF3\nE4\n", lines);
        assertEquals(refused, pump.failure("2"));
        assertEquals("no launcher 999 on this pump", pump.failure("3").getMessage());
        assertEquals(true, pump.removeLauncher(refusing));
        assertEquals(false, pump.removeLauncher(refusing));
        assertEquals("F5\n", pump.exchangeAndStart("", refusing + " 5 cid-5"));
    }
}
