package dev.fireflytx.bridge;

import org.fireflyframework.transactional.saga.core.SagaContext;

/**
 * The engine's saga context, tagged with the key under which Python keeps the run and the pump of the
 * run's event loop.
 *
 * <p>Step handlers receive the context on every call; reading two fields is the cheapest way for them to
 * queue a request for the right run on the right loop.
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
}
