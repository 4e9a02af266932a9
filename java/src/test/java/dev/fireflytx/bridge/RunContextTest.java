package dev.fireflytx.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import org.fireflyframework.transactional.shared.core.StepStatus;
import org.junit.jupiter.api.Test;

class RunContextTest {

    @Test
    void keepsWhatTheEngineDecidesOnAndDropsWhatOnlyItsReportsRead() {
        RunContext ctx = new RunContext("cid", "saga", "1", new RunPump(() -> {}));

        ctx.setStatus("a", StepStatus.DONE);
        ctx.incrementAttempts("a");
        ctx.putResult("a", Boolean.TRUE);
        assertEquals(StepStatus.DONE, ctx.getStatus("a"));
        assertEquals(1, ctx.getAttempts("a"));
        assertEquals(Boolean.TRUE, ctx.getResult("a"));

        ctx.setLatency("a", 12L);
        ctx.markStepStarted("a", Instant.now());
        ctx.setStepDependencies(Map.of("a", List.of()));
        ctx.setTopologyLayers(List.of(List.of("a")));
        assertEquals(0L, ctx.getLatency("a"));
        assertNull(ctx.getStepStartedAt("a"));
        assertTrue(ctx.stepDependenciesView().isEmpty());
        assertTrue(ctx.topologyLayersView().isEmpty());
    }
}
