package dev.fireflytx.bridge;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import org.fireflyframework.transactional.saga.core.SagaContext;

/**
 * The engine's saga context, tagged with the key under which Python keeps the run and the pump of the
 * run's event loop.
 *
 * <p>Step handlers receive the context on every call; reading two fields is the cheapest way for them to
 * queue a request for the right run on the right loop.
 *
 * <p>It keeps no step timings and no topology. The engine records them on every run (a step's start and
 * latency in two concurrent maps per step, every step's dependencies per run) only for its own
 * {@code SagaResult}, step events and persistence, none of which fireflytx reads: fireflytx times attempts
 * itself. Those puts were about a twentieth of the engine's time on a 50-step chain (a JFR recording);
 * the engine's decisions read statuses, attempts and results, which are kept.
 */
public class RunContext extends SagaContext {
    /** Python's key for this run. */
    public final String runKey;

    /** Where this run's requests to Python go. */
    public final RunPump pump;

    public RunContext(String correlationId, String sagaName, String runKey, RunPump pump) {
        super(correlationId, sagaName);
        this.runKey = runKey;
        this.pump = pump;
    }

    @Override
    public void setLatency(String stepId, long millis) {
        // Not kept: see the class comment.
    }

    @Override
    public void markStepStarted(String stepId, Instant when) {
        // Not kept: see the class comment.
    }

    @Override
    public void setStepDependencies(Map<String, List<String>> deps) {
        // Not kept: see the class comment.
    }

    @Override
    public void setTopologyLayers(List<List<String>> layers) {
        // Not kept: see the class comment.
    }
}
