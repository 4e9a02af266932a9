package dev.fireflytx.bridge;

import org.fireflyframework.transactional.saga.engine.SagaEngine;
import org.fireflyframework.transactional.saga.registry.SagaDefinition;

/**
 * Starts one saga run in a single call from Python and returns what the run first asks of Python.
 *
 * <p>Creating the run's context, calling the engine and subscribing to its result from Python would cost
 * three crossings and two Java objects wrapped for Python; the first layer's requests ride back on the
 * return value instead of waking Python separately.
 */
public final class SagaRuns {

    private SagaRuns() {}

    /**
     * Executes {@code definition} on {@code engine} with a fresh {@link RunContext}; the run's requests and its
     * end (an {@code E} or {@code F} line under {@code runKey}) go to {@code pump}.
     *
     * <p>The engine gets no {@code StepInputs}: Python keeps every input and hands each step its own, and
     * fans steps out itself. With none, the engine also skips looking at every step for one to expand on
     * each run, which it does for any inputs given, even empty ones.
     *
     * @return the requests queued while starting (the first layer's steps), one per line
     */
    public static String start(
            SagaEngine engine, SagaDefinition definition, String correlationId, String runKey, RunPump pump) {
        RunPump.Launcher launcher = launcher(engine, definition);
        return pump.during(() -> launcher.launch(correlationId, runKey, pump));
    }

    /** Starts runs of {@code definition} on {@code engine} as {@link #start} does, for a pump's start lines. */
    public static RunPump.Launcher launcher(SagaEngine engine, SagaDefinition definition) {
        return (correlationId, runKey, pump) -> {
            RunContext context = new RunContext(correlationId, definition.name, runKey, pump);
            String[] previous = RunTags.enter(new String[] {correlationId, definition.name, null});
            try {
                Completions.subscribe(engine.execute(definition, null, context), runKey,
                        (key, value, error) -> pump.ended(key, error));
            } finally {
                RunTags.restore(previous);
            }
        };
    }
}
