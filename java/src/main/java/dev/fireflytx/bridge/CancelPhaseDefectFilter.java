package dev.fireflytx.bridge;

import org.slf4j.Marker;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;

/**
 * Drops the engine's two false ERROR lines about its own TCC cancel phase, before they are formatted.
 *
 * <p>The engine's cancel phase throws {@link UnsupportedOperationException} ({@code Collections.reverse} on an
 * immutable list) whenever two or more participants were tried, and its orchestrator and engine each log that
 * with a full stack trace. fireflytx never relies on that phase: it has cancelled every participant itself by
 * then, and the run ends {@code CANCELED}. The lines would tell the reader the opposite, and formatting two
 * stack traces per canceled transaction cost more than the rest of the cancel. Every other event passes.
 */
public final class CancelPhaseDefectFilter extends TurboFilter {

    private static final String ORCHESTRATOR = "org.fireflyframework.transactional.tcc.engine.TccExecutionOrchestrator";
    private static final String ENGINE = "org.fireflyframework.transactional.tcc.engine.TccEngine";
    /** The defect's frame sits a few frames below the throw (uoe, set, swap, reverse). */
    private static final int FRAMES_SEARCHED = 8;

    @Override
    public FilterReply decide(Marker marker, Logger logger, Level level, String format, Object[] params, Throwable t) {
        if (level != Level.ERROR || logger == null) {
            return FilterReply.NEUTRAL;
        }
        String name = logger.getName();
        if (!ORCHESTRATOR.equals(name) && !ENGINE.equals(name)) {
            return FilterReply.NEUTRAL;
        }
        Throwable error = t;
        if (error == null && params != null && params.length > 0 && params[params.length - 1] instanceof Throwable last) {
            error = last; // SLF4J takes a trailing Throwable argument as the event's exception
        }
        return isCancelPhaseDefect(error) ? FilterReply.DENY : FilterReply.NEUTRAL;
    }

    /** Whether {@code error} is the engine's cancel-phase {@code Collections.reverse} failure. */
    static boolean isCancelPhaseDefect(Throwable error) {
        if (!(error instanceof UnsupportedOperationException)) {
            return false;
        }
        StackTraceElement[] frames = error.getStackTrace();
        for (int i = 0; i < Math.min(frames.length, FRAMES_SEARCHED); i++) {
            if (ORCHESTRATOR.equals(frames[i].getClassName()) && "executeCancelPhase".equals(frames[i].getMethodName())) {
                return true;
            }
        }
        return false;
    }
}
