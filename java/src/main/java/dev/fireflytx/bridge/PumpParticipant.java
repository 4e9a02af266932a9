package dev.fireflytx.bridge;

import org.fireflyframework.transactional.tcc.core.TccContext;

/**
 * The engine's handle on one Python TCC participant: each phase call becomes a request line on the run's
 * {@link RunPump} ({@code T} try, {@code K} confirm, {@code X} cancel), answered by Python later.
 *
 * <p>Like {@link PythonStepHandler}, it never calls Python and never throws into the engine.
 */
public final class PumpParticipant implements PyTccParticipant {

    private final String unitKey;
    private final String participantId;

    /**
     * @param unitKey       Python's key for the participant
     * @param participantId its id, for the {@link RunTags} of the engine's log lines
     */
    public PumpParticipant(String unitKey, String participantId) {
        this.unitKey = unitKey;
        this.participantId = participantId;
    }

    @Override
    public Object tryPhase(Object input, TccContext ctx) {
        return request('T', ctx);
    }

    @Override
    public Object confirmPhase(Object tryResult, TccContext ctx) {
        return request('K', ctx);
    }

    @Override
    public Object cancelPhase(Object tryResult, TccContext ctx) {
        return request('X', ctx);
    }

    private Object request(char kind, TccContext ctx) {
        try {
            RunPump pump = (RunPump) ctx.getVariable(TccRuns.PUMP_VARIABLE);
            String[] tags = {ctx.correlationId(), ctx.getTccName(), participantId};
            return pump.request(kind, (String) ctx.getVariable(TccRuns.RUN_VARIABLE), unitKey, tags);
        } catch (Throwable error) {
            return reactor.core.publisher.Mono.error(error);
        }
    }
}
