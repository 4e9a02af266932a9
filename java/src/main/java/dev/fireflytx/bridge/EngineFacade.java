package dev.fireflytx.bridge;

import java.lang.reflect.Method;
import java.time.Duration;
import java.util.List;

import org.fireflyframework.transactional.saga.engine.SagaEngine;
import org.fireflyframework.transactional.saga.registry.SagaDefinition;
import org.fireflyframework.transactional.saga.registry.StepDefinition;
import org.fireflyframework.transactional.saga.validation.SagaValidator;
import org.fireflyframework.transactional.shared.engine.CompensationPolicy;
import org.fireflyframework.transactional.tcc.core.TccContext;
import org.fireflyframework.transactional.tcc.engine.TccEngine;
import org.fireflyframework.transactional.tcc.registry.TccDefinition;
import org.fireflyframework.transactional.tcc.registry.TccParticipantDefinition;
import org.fireflyframework.transactional.tcc.registry.TccRegistry;
import org.springframework.context.support.GenericApplicationContext;

/**
 * Everything fireflytx builds from the engine's classes, built here from strings, numbers and callbacks.
 *
 * <p>Python used to call the engine's constructors itself. JPype resolves those calls only when they run, so an
 * engine upgrade that added, dropped or reordered a constructor parameter or renamed a field broke a user's first
 * run; compiled here, the same upgrade fails the build and these methods' tests. Each method is also a single
 * crossing from Python, however many Java objects it makes.
 */
public final class EngineFacade {

    /**
     * What fireflytx gives the TCC engine for "no timeout": about a century.
     *
     * <p>The engine cannot switch a phase timeout off ({@code 0} and {@code -1} both mean its 30 s default); a
     * century in milliseconds still fits the nanoseconds Reactor converts it to.
     */
    public static final long NO_LIMIT_MS = 100L * 365 * 24 * 3600 * 1000;

    private static final Method TRY;
    private static final Method CONFIRM;
    private static final Method CANCEL;

    static {
        try {
            TRY = PyTccParticipant.class.getMethod("tryPhase", Object.class, TccContext.class);
            CONFIRM = PyTccParticipant.class.getMethod("confirmPhase", Object.class, TccContext.class);
            CANCEL = PyTccParticipant.class.getMethod("cancelPhase", Object.class, TccContext.class);
        } catch (NoSuchMethodException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private EngineFacade() {}

    // ---------------------------------------------------------------- sagas

    /** An empty saga; add its steps with {@link #addStep}. fireflytx uses no bean or target. */
    public static SagaDefinition saga(String name, int layerConcurrency) {
        return new SagaDefinition(name, null, null, layerConcurrency);
    }

    /**
     * Adds one Python step to {@code saga}, handled by a {@link PythonStepHandler} that queues its requests on
     * each run's {@link RunPump} under {@code unitKey}.
     *
     * <p>A step with a compensation ({@code compensationName} not null) gets no engine retry and no engine
     * timeout for it: fireflytx retries and times compensations itself, and the engine would retry a handler's
     * compensation at most once, and only under some policies. The backoff and criticality are still given,
     * since the engine reads them for its own reports.
     *
     * @param dependsOn           ids of the steps this one waits for
     * @param timeoutMs           the engine's timeout for one attempt; {@code 0} means none
     * @param idempotencyKey      may be null
     * @param compensationName    name of the compensation method, or null when the step has none
     * @param unitKey             Python's key for the step
     * @return the step, already in {@code saga.steps}
     */
    public static StepDefinition addStep(
            SagaDefinition saga,
            String id,
            String[] dependsOn,
            int retry,
            long backoffMs,
            long timeoutMs,
            String idempotencyKey,
            boolean jitter,
            double jitterFactor,
            String compensationName,
            long compensationBackoffMs,
            boolean compensationCritical,
            String unitKey) {
        StepDefinition step = new StepDefinition(
                id,
                compensationName,
                List.of(dependsOn),
                retry,
                Duration.ofMillis(backoffMs),
                Duration.ofMillis(timeoutMs),
                idempotencyKey,
                jitter,
                jitterFactor,
                false,
                null);
        boolean compensable = compensationName != null;
        step.handler = new PythonStepHandler(unitKey, compensable, id);
        if (compensable) {
            step.compensationRetry = 0;
            step.compensationTimeout = Duration.ZERO;
            step.compensationBackoff = Duration.ofMillis(compensationBackoffMs);
            step.compensationCritical = compensationCritical;
        }
        saga.steps.put(id, step);
        return step;
    }

    /** The engine validator's errors for {@code saga}; empty when it is valid. */
    public static String[] validate(SagaDefinition saga) {
        return SagaValidator.validateSagaDefinition(saga).getErrors().toArray(String[]::new);
    }

    /**
     * A saga engine with no registry (fireflytx hands it definitions) and silent events.
     *
     * @param policy the name of a {@link CompensationPolicy} constant
     * @throws IllegalArgumentException if the engine has no such policy
     */
    public static SagaEngine sagaEngine(String policy) {
        return new SagaEngine(null, new NoOpSagaEvents(), CompensationPolicy.valueOf(policy));
    }

    // ---------------------------------------------------------------- TCC

    /**
     * A TCC registry with nothing in it.
     *
     * <p>{@link TccEngine} insists on a registry, and the registry's only constructor scans a refreshed Spring
     * context at once; fireflytx hands the engine its definitions, so the context is empty.
     */
    public static TccRegistry tccRegistry() {
        GenericApplicationContext empty = new GenericApplicationContext();
        empty.refresh();
        return new TccRegistry(empty);
    }

    /** A TCC engine over {@code registry} with silent events (the engine calls them without a null check). */
    public static TccEngine tccEngine(TccRegistry registry) {
        return new TccEngine(registry, new NoOpTccEvents());
    }

    /**
     * An empty TCC; add its participants with {@link #addParticipant}.
     *
     * <p>The engine reads none of the TCC-level settings (timeout, retries); fireflytx applies its own.
     */
    public static TccDefinition tcc(String name) {
        return new TccDefinition(name, null, null, -1, false, 0, 0);
    }

    /** {@code timeoutMs}, or {@link #NO_LIMIT_MS} when it is not positive (fireflytx's "no limit"). */
    public static long limit(long timeoutMs) {
        return timeoutMs > 0 ? timeoutMs : NO_LIMIT_MS;
    }

    /**
     * Adds one Python participant to {@code tcc}; the engine calls {@code participant}'s
     * {@link PyTccParticipant} methods.
     *
     * <p>The participant-level timeout and every try timeout are {@link #NO_LIMIT_MS}: fireflytx times tries
     * itself. {@code optional} is never read by the engine (fireflytx implements it), so it is false. Cancel
     * settings matter only if the engine runs a cancel, which fireflytx does itself.
     *
     * @param confirmTimeoutMs {@code 0} or less means no limit; the same for {@code cancelTimeoutMs}
     * @return the participant, already in {@code tcc}
     */
    public static TccParticipantDefinition addParticipant(
            TccDefinition tcc,
            String id,
            int order,
            PyTccParticipant participant,
            int tryRetry,
            long tryBackoffMs,
            long confirmTimeoutMs,
            int confirmRetry,
            long confirmBackoffMs,
            long cancelTimeoutMs,
            int cancelRetry,
            long cancelBackoffMs) {
        TccParticipantDefinition definition = new TccParticipantDefinition(
                id,
                order,
                NO_LIMIT_MS,
                false,
                participant,
                participant,
                TRY,
                NO_LIMIT_MS,
                tryRetry,
                tryBackoffMs,
                CONFIRM,
                limit(confirmTimeoutMs),
                confirmRetry,
                confirmBackoffMs,
                CANCEL,
                limit(cancelTimeoutMs),
                cancelRetry,
                cancelBackoffMs);
        tcc.addParticipant(definition);
        return definition;
    }
}
