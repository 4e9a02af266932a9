package dev.fireflytx.bridge;

import org.fireflyframework.transactional.tcc.core.TccContext;
import org.fireflyframework.transactional.tcc.core.TccInputs;
import org.fireflyframework.transactional.tcc.engine.TccEngine;
import org.fireflyframework.transactional.tcc.registry.TccDefinition;

/**
 * Starts one TCC run, with the engine's log lines about its start tagged with the run.
 *
 * <p>{@code TccEngine.execute} logs as soon as it is called, before anything is subscribed, so the
 * {@link RunTags} must cover the call itself.
 */
public final class TccRuns {

    private TccRuns() {}

    /** Execute {@code definition} with {@code context}; the listener is told, under {@code runKey}, when it ends. */
    public static void start(
            TccEngine engine,
            TccDefinition definition,
            TccInputs inputs,
            TccContext context,
            String runKey,
            Completions.Listener listener) {
        String[] previous = RunTags.enter(new String[] {context.correlationId(), definition.name, null});
        try {
            Completions.subscribe(engine.execute(definition, inputs, context), runKey, listener);
        } finally {
            RunTags.restore(previous);
        }
    }
}
