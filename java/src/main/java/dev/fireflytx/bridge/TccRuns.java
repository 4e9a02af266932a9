package dev.fireflytx.bridge;

import org.fireflyframework.transactional.tcc.core.TccContext;
import org.fireflyframework.transactional.tcc.core.TccInputs;
import org.fireflyframework.transactional.tcc.core.TccResult;
import org.fireflyframework.transactional.tcc.engine.TccEngine;
import org.fireflyframework.transactional.tcc.registry.TccDefinition;

/**
 * Starts one TCC run in a single call from Python, like {@link SagaRuns}.
 *
 * <p>The engine reports some of its own failures as a result rather than an error: a cancelled run that
 * names no failed participant means the engine itself failed (it then ran its cancel phase). Such a result
 * ends the run with the result's error, so Python sees every engine failure the same way.
 */
public final class TccRuns {

    /** The context variable that holds Python's key for the run. */
    public static final String RUN_VARIABLE = "fireflytx.run";

    /** The context variable that holds the run's {@link RunPump}. */
    public static final String PUMP_VARIABLE = "fireflytx.pump";

    /**
     * The inputs of every run: Python hands each participant its own input. The engine needs an object here
     * (null fails the first try), and an empty one holds nothing a run could change, so one serves all.
     */
    private static final TccInputs NO_INPUTS = TccInputs.empty();

    private TccRuns() {}

    /**
     * Executes {@code definition} on {@code engine}; participants find the run and its pump through the
     * context's variables.
     *
     * @return the requests queued while starting (the first try), one per line
     */
    public static String start(
            TccEngine engine, TccDefinition definition, String correlationId, String runKey, RunPump pump) {
        RunPump.Launcher launcher = launcher(engine, definition);
        return pump.during(() -> launcher.launch(correlationId, runKey, pump));
    }

    /** Starts runs of {@code definition} on {@code engine} as {@link #start} does, for a pump's start lines. */
    public static RunPump.Launcher launcher(TccEngine engine, TccDefinition definition) {
        return (correlationId, runKey, pump) -> {
            TccContext context = new TccContext(correlationId);
            context.setVariable(RUN_VARIABLE, runKey);
            context.setVariable(PUMP_VARIABLE, pump);
            // The engine logs as soon as execute is called, before anything is subscribed.
            String[] previous = RunTags.enter(new String[] {correlationId, definition.name, null});
            try {
                Completions.subscribe(engine.execute(definition, NO_INPUTS, context), runKey,
                        (key, value, error) -> pump.ended(key, error != null ? error : engineError(value)));
            } finally {
                RunTags.restore(previous);
            }
        };
    }

    /** The engine's own failure hidden in a result, if any. */
    static Throwable engineError(Object value) {
        if (value instanceof TccResult result && !result.isSuccess() && result.getFailedParticipantId() == null) {
            return result.getError();
        }
        return null;
    }
}
