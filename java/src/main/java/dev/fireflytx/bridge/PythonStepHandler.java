package dev.fireflytx.bridge;

import org.fireflyframework.transactional.saga.core.SagaContext;
import org.fireflyframework.transactional.saga.engine.step.StepHandler;

import reactor.core.publisher.Mono;

/**
 * The engine's handler for one Python step: each call becomes a request line on the run's {@link RunPump}.
 *
 * <p>It never calls Python itself, so an attempt costs no crossing of its own: Python drains the requests of
 * a loop turn together and answers them together. Neither method ever throws into the engine (a synchronous
 * throw from {@code compensate} would fail the whole run).
 */
public final class PythonStepHandler implements StepHandler<Object, Object> {

    private final String unitKey;
    private final boolean compensable;
    private final String stepId;

    /**
     * @param unitKey     Python's key for the step (a short string: it goes into every request line)
     * @param compensable whether the step has a compensation (if not, compensating is a no-op)
     * @param stepId      the step's id, for the {@link RunTags} of the engine's log lines; may be null
     */
    public PythonStepHandler(String unitKey, boolean compensable, String stepId) {
        this.unitKey = unitKey;
        this.compensable = compensable;
        this.stepId = stepId;
    }

    private String[] tags(SagaContext ctx) {
        return new String[] {ctx.correlationId(), ctx.sagaName(), stepId};
    }

    @Override
    public Mono<Object> execute(Object input, SagaContext ctx) {
        try {
            RunContext run = (RunContext) ctx;
            return run.pump.request('S', run.runKey, unitKey, tags(ctx));
        } catch (Throwable error) {
            return Mono.error(error);
        }
    }

    @Override
    public Mono<Void> compensate(Object arg, SagaContext ctx) {
        if (!compensable) {
            return Mono.empty();
        }
        try {
            RunContext run = (RunContext) ctx;
            return run.pump.request('C', run.runKey, unitKey, tags(ctx)).then();
        } catch (Throwable error) {
            return Mono.error(error);
        }
    }
}
