package dev.fireflytx.bridge;

import org.fireflyframework.transactional.saga.engine.SagaEngine;
import org.fireflyframework.transactional.saga.engine.StepInputs;
import org.fireflyframework.transactional.saga.registry.SagaDefinition;

/**
 * Starts one saga run in a single call from Python.
 *
 * <p>Creating the run's context, calling the engine and subscribing to its result from Python
 * would cost three crossings and two Java objects wrapped for Python per run; none of them is
 * needed on the Python side.
 */
public final class SagaRuns {

    private SagaRuns() {}

    /**
     * Execute {@code definition} on {@code engine} with a fresh {@link RunContext}; the listener is
     * told, under {@code runKey}, when the run ends. Steps of the first layer start before this
     * returns.
     */
    public static void start(
            SagaEngine engine,
            SagaDefinition definition,
            StepInputs inputs,
            String correlationId,
            String runKey,
            Completions.Listener listener) {
        RunContext context = new RunContext(correlationId, definition.name, runKey);
        String[] previous = RunTags.enter(new String[] {correlationId, definition.name, null});
        try {
            Completions.subscribe(engine.execute(definition, inputs, context), runKey, listener);
        } finally {
            RunTags.restore(previous);
        }
    }
}
