package dev.fireflytx.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.fireflyframework.transactional.saga.core.SagaContext;
import org.fireflyframework.transactional.saga.core.SagaResult;
import org.fireflyframework.transactional.saga.engine.SagaEngine;
import org.fireflyframework.transactional.saga.engine.StepInputs;
import org.fireflyframework.transactional.saga.engine.step.StepHandler;
import org.fireflyframework.transactional.saga.registry.SagaDefinition;
import org.fireflyframework.transactional.saga.registry.StepDefinition;
import org.fireflyframework.transactional.saga.validation.SagaValidator;
import org.fireflyframework.transactional.tcc.core.TccContext;
import org.fireflyframework.transactional.tcc.core.TccInputs;
import org.fireflyframework.transactional.tcc.core.TccResult;
import org.fireflyframework.transactional.tcc.engine.TccEngine;
import org.fireflyframework.transactional.tcc.registry.TccDefinition;
import org.fireflyframework.transactional.tcc.registry.TccParticipantDefinition;
import org.fireflyframework.transactional.tcc.registry.TccRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.context.support.GenericApplicationContext;

import reactor.core.publisher.Mono;

/** Runs the engine the way fireflytx does: programmatic definitions, no Spring context, pruned classpath. */
@Timeout(30)
class EngineSmokeTest {

    private final List<String> calls = new CopyOnWriteArrayList<>();

    private StepHandler<Object, Object> handler(String id, boolean fail) {
        return new StepHandler<>() {
            @Override
            public Mono<Object> execute(Object input, SagaContext ctx) {
                calls.add("execute " + id);
                return fail
                        ? Mono.error(new PythonStepException("builtins.RuntimeError", id + " failed", 5L))
                        : Mono.just("result-" + id);
            }

            @Override
            public Mono<Void> compensate(Object arg, SagaContext ctx) {
                calls.add("compensate " + id + " " + ctx.getResult(id));
                return Mono.empty();
            }
        };
    }

    private static StepDefinition step(String id, List<String> dependsOn) {
        return new StepDefinition(id, null, dependsOn, 0, Duration.ofMillis(10), null, null, false, 0.0, false, null);
    }

    @Test
    void failingSecondStepCompensatesTheFirst() {
        SagaDefinition saga = new SagaDefinition("order", null, null, 0);
        StepDefinition reserve = step("reserve", List.of());
        reserve.handler = handler("reserve", false);
        StepDefinition charge = step("charge", List.of("reserve"));
        charge.handler = handler("charge", true);
        saga.steps.put("reserve", reserve);
        saga.steps.put("charge", charge);
        assertTrue(SagaValidator.validateSagaDefinition(saga).isValid());

        SagaEngine engine = new SagaEngine(null, new NoOpSagaEvents());
        SagaResult result = engine.execute(saga, StepInputs.empty(), new SagaContext("corr-1"))
                .block(Duration.ofSeconds(10));

        assertFalse(result.isSuccess());
        assertEquals(List.of("charge"), result.failedSteps());
        assertEquals(List.of("reserve"), result.compensatedSteps());
        assertEquals("builtins.RuntimeError: charge failed", result.error().orElseThrow().getMessage());
        assertEquals(List.of("execute reserve", "execute charge", "compensate reserve result-reserve"), calls);
    }

    /** A plain Java implementation stands in for the JPype proxy; the engine uses the interface's Methods. */
    private final class Participant implements PyTccParticipant {
        private final String id;
        private final boolean failTry;

        Participant(String id, boolean failTry) {
            this.id = id;
            this.failTry = failTry;
        }

        @Override
        public Object tryPhase(Object input, TccContext ctx) {
            calls.add("try " + id + " " + input);
            if (failTry) {
                throw new PythonStepException("builtins.ValueError", "no stock", 1L);
            }
            return "reserved-" + id;
        }

        @Override
        public Object confirmPhase(Object tryResult, TccContext ctx) {
            calls.add("confirm " + id + " " + tryResult);
            return "ok";
        }

        @Override
        public Object cancelPhase(Object tryResult, TccContext ctx) {
            calls.add("cancel " + id + " " + tryResult);
            return "ok";
        }
    }

    private TccResult runTcc(boolean failSecond) throws Exception {
        GenericApplicationContext empty = new GenericApplicationContext();
        empty.refresh();
        TccEngine engine = new TccEngine(new TccRegistry(empty), new NoOpTccEvents());
        var mTry = PyTccParticipant.class.getMethod("tryPhase", Object.class, TccContext.class);
        var mConfirm = PyTccParticipant.class.getMethod("confirmPhase", Object.class, TccContext.class);
        var mCancel = PyTccParticipant.class.getMethod("cancelPhase", Object.class, TccContext.class);
        TccDefinition def = new TccDefinition("transfer", null, null, -1, true, 3, 1000);
        int order = 0;
        for (Participant p : List.of(new Participant("a", false), new Participant("b", failSecond))) {
            def.addParticipant(new TccParticipantDefinition(p.id, order++, 5_000, false, p, p,
                    mTry, -1, 0, -1, mConfirm, -1, 0, -1, mCancel, -1, 0, -1));
        }
        return engine.execute(def, TccInputs.of("a", "in-a"), new TccContext("tcc-1")).block(Duration.ofSeconds(10));
    }

    @Test
    void tccConfirmsBothParticipants() throws Exception {
        TccResult result = runTcc(false);
        assertTrue(result.isSuccess());
        assertTrue(result.getParticipantResults().values().stream().allMatch(r -> r.isConfirmSucceeded()));
        assertEquals(List.of("try a in-a", "try b null", "confirm a reserved-a", "confirm b reserved-b"), calls);
    }

    @Test
    void tccCancelsTriedParticipantsWhenATryFails() throws Exception {
        TccResult result = runTcc(true);
        assertFalse(result.isSuccess());
        assertEquals("b", result.getFailedParticipantId());
        assertEquals(List.of("try a in-a", "try b null", "cancel a reserved-a"), calls);
    }
}
