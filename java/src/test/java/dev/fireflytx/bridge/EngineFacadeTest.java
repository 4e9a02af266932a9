package dev.fireflytx.bridge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.fireflyframework.transactional.saga.core.SagaResult;
import org.fireflyframework.transactional.saga.engine.SagaEngine;
import org.fireflyframework.transactional.saga.registry.SagaDefinition;
import org.fireflyframework.transactional.saga.registry.StepDefinition;
import org.fireflyframework.transactional.shared.engine.CompensationPolicy;
import org.fireflyframework.transactional.tcc.core.TccContext;
import org.fireflyframework.transactional.tcc.core.TccInputs;
import org.fireflyframework.transactional.tcc.core.TccResult;
import org.fireflyframework.transactional.tcc.engine.TccEngine;
import org.fireflyframework.transactional.tcc.registry.TccDefinition;
import org.fireflyframework.transactional.tcc.registry.TccParticipantDefinition;
import org.fireflyframework.transactional.tcc.registry.TccRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What the facade builds, field by field, and that the engine runs it: an engine upgrade that changes a
 * constructor or a field the facade relies on fails here (or does not compile) instead of at a user's first run.
 */
@Timeout(30)
class EngineFacadeTest {

    private final List<String> calls = new CopyOnWriteArrayList<>();

    private SagaDefinition orderSaga() {
        SagaDefinition saga = EngineFacade.saga("order", 2);
        EngineFacade.addStep(saga, "reserve", new String[0], 0, 10, 0, null, false, 0.5, "release", 0, false, "reserve");
        EngineFacade.addStep(saga, "charge", new String[] {"reserve"}, 0, 10, 0, null, false, 0.5, null, 0, false,
                "charge");
        return saga;
    }

    @Test
    void sagaCarriesItsNameAndLayerConcurrencyAndNoBean() {
        SagaDefinition saga = EngineFacade.saga("checkout", 3);
        assertEquals("checkout", saga.name);
        assertEquals(3, saga.layerConcurrency);
        assertNull(saga.bean);
        assertNull(saga.target);
        assertTrue(saga.steps.isEmpty());
    }

    @Test
    void addStepSetsEveryFieldOfAStepWithoutCompensation() {
        SagaDefinition saga = EngineFacade.saga("s", 0);
        StepDefinition step = EngineFacade.addStep(saga, "charge", new String[] {"a", "b"}, 3, 250, 5_000,
                "idem-1", true, 0.25, null, 0, false, "charge");

        assertSame(step, saga.steps.get("charge"));
        assertEquals("charge", step.id);
        assertNull(step.compensateName);
        assertEquals(List.of("a", "b"), step.dependsOn);
        assertEquals(3, step.retry);
        assertEquals(Duration.ofMillis(250), step.backoff);
        assertEquals(Duration.ofMillis(5_000), step.timeout);
        assertEquals("idem-1", step.idempotencyKey);
        assertTrue(step.jitter);
        assertEquals(0.25, step.jitterFactor);
        assertFalse(step.cpuBound);
        assertNull(step.stepMethod);
        assertInstanceOf(PythonStepHandler.class, step.handler);
        // Compensation settings stay the engine's defaults when there is nothing to compensate.
        StepDefinition plain = new StepDefinition("x", null, List.of(), 0, Duration.ZERO, Duration.ZERO, null,
                false, 0.0, false, null);
        assertEquals(plain.compensationRetry, step.compensationRetry);
        assertEquals(plain.compensationTimeout, step.compensationTimeout);
        assertEquals(plain.compensationBackoff, step.compensationBackoff);
        assertFalse(step.compensationCritical);
    }

    @Test
    void addStepLeavesCompensationRetriesAndTimeoutsToFireflytx() {
        SagaDefinition saga = EngineFacade.saga("s", 0);
        StepDefinition step = EngineFacade.addStep(saga, "reserve", new String[0], 0, 100, 0, null, false, 0.5,
                "release", 400, true, "reserve");

        assertEquals("release", step.compensateName);
        assertEquals(Duration.ZERO, step.timeout);
        assertEquals(Integer.valueOf(0), step.compensationRetry);
        assertEquals(Duration.ZERO, step.compensationTimeout);
        assertEquals(Duration.ofMillis(400), step.compensationBackoff);
        assertTrue(step.compensationCritical);
    }

    @Test
    void stepsKeepTheirOrderOfAddition() {
        SagaDefinition saga = orderSaga();
        assertEquals(List.of("reserve", "charge"), new ArrayList<>(saga.steps.keySet()));
    }

    @Test
    void validateReturnsNoErrorsForAValidSaga() {
        assertArrayEquals(new String[0], EngineFacade.validate(orderSaga()));
    }

    @Test
    void validateReturnsTheEnginesMessagesForACycle() {
        SagaDefinition saga = EngineFacade.saga("loop", 0);
        EngineFacade.addStep(saga, "a", new String[] {"b"}, 0, 10, 0, null, false, 0.5, null, 0, false, "a");
        EngineFacade.addStep(saga, "b", new String[] {"a"}, 0, 10, 0, null, false, 0.5, null, 0, false, "b");
        String[] errors = EngineFacade.validate(saga);
        assertTrue(errors.length > 0);
        assertTrue(String.join("\n", errors).toLowerCase().contains("circular"), String.join("\n", errors));
    }

    @Test
    void validateReturnsTheEnginesMessagesForAnUnknownDependency() {
        SagaDefinition saga = EngineFacade.saga("dangling", 0);
        EngineFacade.addStep(saga, "a", new String[] {"ghost"}, 0, 10, 0, null, false, 0.5, null, 0, false, "a");
        String[] errors = EngineFacade.validate(saga);
        assertTrue(String.join("\n", errors).contains("ghost"), String.join("\n", errors));
    }

    @Test
    void everyCompensationPolicyGivesAnEngineThatRunsAndCompensates() throws Exception {
        for (CompensationPolicy policy : CompensationPolicy.values()) {
            try (FakePython python = new FakePython(request -> request.equals("Scharge"))) {
                String runKey = "run-" + policy;
                python.handle(SagaRuns.start(EngineFacade.sagaEngine(policy.name()), orderSaga(), "c-" + policy,
                        runKey, python.pump));
                assertEquals("E", python.end(runKey).get(10, java.util.concurrent.TimeUnit.SECONDS), policy.name());
                assertEquals(List.of("S", "S", "C", "E"), kinds(python), policy.name());
            }
        }
    }

    @Test
    void aSagaBuiltByTheFacadeSucceedsThroughSagaRuns() throws Exception {
        try (FakePython python = new FakePython(request -> false)) {
            python.handle(SagaRuns.start(EngineFacade.sagaEngine("STRICT_SEQUENTIAL"), orderSaga(), "cid", "run-1",
                    python.pump));
            assertEquals("E", python.end("run-1").get(10, java.util.concurrent.TimeUnit.SECONDS));
            assertEquals(List.of("S", "S", "E"), kinds(python));
            assertTrue(python.lines.get(0).startsWith("Srun-1 reserve "), python.lines.toString());
            assertTrue(python.lines.get(1).startsWith("Srun-1 charge "), python.lines.toString());
        }
    }

    private static List<String> kinds(FakePython python) {
        return python.lines.stream().map(line -> line.substring(0, 1)).toList();
    }

    @Test
    void anUnknownPolicyIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> EngineFacade.sagaEngine("OPTIMISTIC"));
    }

    // ---------------------------------------------------------------- TCC

    private final class Participant implements PyTccParticipant {
        private final String id;
        private final boolean failTry;

        Participant(String id, boolean failTry) {
            this.id = id;
            this.failTry = failTry;
        }

        @Override
        public Object tryPhase(Object input, TccContext ctx) {
            calls.add("try " + id);
            if (failTry) {
                throw new PythonStepException("ValueError", "no stock", 1L);
            }
            return Boolean.TRUE;
        }

        @Override
        public Object confirmPhase(Object tryResult, TccContext ctx) {
            calls.add("confirm " + id);
            return Boolean.TRUE;
        }

        @Override
        public Object cancelPhase(Object tryResult, TccContext ctx) {
            calls.add("cancel " + id);
            return Boolean.TRUE;
        }
    }

    @Test
    void tccLeavesEveryTccLevelSettingToFireflytx() {
        TccDefinition tcc = EngineFacade.tcc("transfer");
        assertEquals("transfer", tcc.name);
        assertNull(tcc.bean);
        assertNull(tcc.target);
        assertEquals(-1, tcc.timeoutMs);
        assertFalse(tcc.retryEnabled);
        assertEquals(0, tcc.maxRetries);
        assertEquals(0, tcc.backoffMs);
        assertTrue(tcc.participants.isEmpty());
    }

    @Test
    void addParticipantSetsEveryField() throws Exception {
        TccDefinition tcc = EngineFacade.tcc("transfer");
        Participant bean = new Participant("pay", false);
        TccParticipantDefinition p = EngineFacade.addParticipant(tcc, "pay", 2, bean, 3, 150, 7_000, 4, 250, 9_000,
                5, 350);

        assertSame(p, tcc.participants.get("pay"));
        assertEquals("pay", p.id);
        assertEquals(2, p.order);
        assertEquals(EngineFacade.NO_LIMIT_MS, p.timeoutMs);
        assertFalse(p.optional);
        assertSame(bean, p.bean);
        assertSame(bean, p.target);
        assertEquals(PyTccParticipant.class.getMethod("tryPhase", Object.class, TccContext.class), p.tryMethod);
        assertEquals(EngineFacade.NO_LIMIT_MS, p.tryTimeoutMs);
        assertEquals(3, p.tryRetry);
        assertEquals(150, p.tryBackoffMs);
        assertEquals(PyTccParticipant.class.getMethod("confirmPhase", Object.class, TccContext.class), p.confirmMethod);
        assertEquals(7_000, p.confirmTimeoutMs);
        assertEquals(4, p.confirmRetry);
        assertEquals(250, p.confirmBackoffMs);
        assertEquals(PyTccParticipant.class.getMethod("cancelPhase", Object.class, TccContext.class), p.cancelMethod);
        assertEquals(9_000, p.cancelTimeoutMs);
        assertEquals(5, p.cancelRetry);
        assertEquals(350, p.cancelBackoffMs);
    }

    @Test
    void aTimeoutOfZeroOrLessMeansACenturyWhichTheEngineKeeps() {
        TccDefinition tcc = EngineFacade.tcc("t");
        TccParticipantDefinition p = EngineFacade.addParticipant(tcc, "a", 1, new Participant("a", false), 0, 0,
                0, 0, 0, -1, 0, 0);
        assertEquals(EngineFacade.NO_LIMIT_MS, p.confirmTimeoutMs);
        assertEquals(EngineFacade.NO_LIMIT_MS, p.cancelTimeoutMs);
        // The engine's own defaulting must leave a century alone (0 and -1 would become its 30 s).
        assertEquals(EngineFacade.NO_LIMIT_MS, p.getEffectiveTryTimeout(30_000));
        assertEquals(EngineFacade.NO_LIMIT_MS, p.getEffectiveConfirmTimeout(30_000));
        assertEquals(EngineFacade.NO_LIMIT_MS, p.getEffectiveCancelTimeout(30_000));
        assertTrue(EngineFacade.NO_LIMIT_MS > 50L * 365 * 24 * 3600 * 1000);
        assertTrue(Duration.ofMillis(EngineFacade.NO_LIMIT_MS).toNanos() > 0);
    }

    @Test
    void theRegistryIsEmpty() {
        TccRegistry registry = EngineFacade.tccRegistry();
        assertFalse(registry.hasTcc("transfer"));
    }

    private TccResult runTcc(boolean failSecond) {
        TccEngine engine = EngineFacade.tccEngine(EngineFacade.tccRegistry());
        TccDefinition tcc = EngineFacade.tcc("transfer");
        EngineFacade.addParticipant(tcc, "a", 1, new Participant("a", false), 0, 0, 0, 0, 0, 0, 0, 0);
        EngineFacade.addParticipant(tcc, "b", 2, new Participant("b", failSecond), 0, 0, 0, 0, 0, 0, 0, 0);
        return engine.execute(tcc, TccInputs.empty(), new TccContext("tcc-1")).block(Duration.ofSeconds(10));
    }

    @Test
    void theTccEngineConfirmsAFacadeBuiltTransactionInOrder() {
        TccResult result = runTcc(false);
        assertTrue(result.isSuccess());
        assertEquals(List.of("try a", "try b", "confirm a", "confirm b"), calls);
    }

    @Test
    void theTccEngineCancelsWhenATryFails() {
        TccResult result = runTcc(true);
        assertFalse(result.isSuccess());
        assertEquals("b", result.getFailedParticipantId());
        assertEquals(List.of("try a", "try b", "cancel a"), calls);
    }
}
