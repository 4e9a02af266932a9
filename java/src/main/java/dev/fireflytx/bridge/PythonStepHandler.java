package dev.fireflytx.bridge;

import java.util.concurrent.atomic.AtomicLong;

import org.fireflyframework.transactional.saga.core.SagaContext;
import org.fireflyframework.transactional.saga.engine.step.StepHandler;

import reactor.core.publisher.Mono;

/**
 * The engine's handler for one Python step.
 *
 * <p>It does on the Java side what would otherwise cost Python several calls per attempt: it
 * creates the attempt's {@link StepFuture}, reads the run id from the {@link RunContext} and hands
 * both to Python in one call. Python completes the future when the step ends. Neither method ever
 * throws into the engine (a synchronous throw from {@code compensate} would fail the whole run).
 *
 * <p>Keys are Strings, not numbers: JPype 1.7.1 leaks a Python int for every Java number passed
 * into Python (fixed upstream after 1.7.1, jpype-project/jpype#1379); Strings and objects cross cleanly.
 */
public final class PythonStepHandler implements StepHandler<Object, Object> {

    /** Python's side of one step. */
    public interface Starter {
        /** Start attempt {@code attemptKey} of the step in run {@code runKey}; complete {@code future} later. */
        void start(String runKey, String attemptKey, StepFuture future);

        /** Start the step's compensation in run {@code runKey}; complete {@code future} later. */
        void compensate(String runKey, StepFuture future);
    }

    private static final AtomicLong ATTEMPTS = new AtomicLong();

    private final Starter starter;
    private final boolean compensable;
    private final CancelListener cancelListener;
    private final String stepId;

    /**
     * @param starter        Python's side of the step
     * @param compensable    whether the step has a compensation (if not, compensating is a no-op)
     * @param cancelListener told when the engine gives up on an attempt (its timeout)
     */
    public PythonStepHandler(Starter starter, boolean compensable, CancelListener cancelListener) {
        this(starter, compensable, cancelListener, null);
    }

    /**
     * @param starter        Python's side of the step
     * @param compensable    whether the step has a compensation (if not, compensating is a no-op)
     * @param cancelListener told when the engine gives up on an attempt (its timeout)
     * @param stepId         the step's id, for the {@link RunTags} of the engine's log lines; may be null
     */
    public PythonStepHandler(Starter starter, boolean compensable, CancelListener cancelListener, String stepId) {
        this.starter = starter;
        this.compensable = compensable;
        this.cancelListener = cancelListener;
        this.stepId = stepId;
    }

    private String[] tags(SagaContext ctx) {
        return new String[] {ctx.correlationId(), ctx.sagaName(), stepId};
    }

    @Override
    public Mono<Object> execute(Object input, SagaContext ctx) {
        String attemptKey = Long.toString(ATTEMPTS.incrementAndGet());
        StepFuture future = new StepFuture(attemptKey, cancelListener, tags(ctx));
        try {
            starter.start(((RunContext) ctx).runKey, attemptKey, future);
        } catch (Throwable error) {
            future.completeExceptionally(error);
        }
        return future.mono();
    }

    @Override
    public Mono<Void> compensate(Object arg, SagaContext ctx) {
        if (!compensable) {
            return Mono.empty();
        }
        StepFuture future = new StepFuture("", null, tags(ctx));
        try {
            starter.compensate(((RunContext) ctx).runKey, future);
        } catch (Throwable error) {
            return Mono.error(error);
        }
        return future.mono().then();
    }
}
