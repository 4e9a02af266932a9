package dev.fireflytx.bridge;

import org.fireflyframework.transactional.saga.core.SagaContext;

/**
 * The engine's saga context, tagged with the id under which Python keeps the run.
 *
 * <p>Step handlers receive the context on every call; reading one String field is the cheapest way
 * for Python to find its own state for the run again.
 */
public class RunContext extends SagaContext {
    /** Python's key for this run. */
    public final String runKey;

    public RunContext(String correlationId, String sagaName, String runKey) {
        super(correlationId, sagaName);
        this.runKey = runKey;
    }
}
