package dev.fireflytx.bridge;

import org.fireflyframework.transactional.tcc.annotations.Input;
import org.fireflyframework.transactional.tcc.core.TccContext;

/**
 * The interface a Python TCC participant implements through JPype.
 *
 * <p>{@code TccEngine} invokes participants by reflection and resolves arguments from parameter annotations,
 * which a Python proxy cannot carry. This body-less interface supplies them: {@code @Input(required = false)}
 * lets a participant take a null input, and the {@link TccContext} parameter is injected by type. Build the
 * {@code TccParticipantDefinition} with this interface's {@code Method}s and the proxy as bean and target.
 *
 * <p>Each phase may return a plain value or a {@code Mono}. The engine hands confirm and cancel the try result,
 * never the original input; a try must not complete empty, or the participant is never confirmed or cancelled.
 */
public interface PyTccParticipant {

    Object tryPhase(@Input(required = false) Object input, TccContext ctx);

    Object confirmPhase(@Input(required = false) Object tryResult, TccContext ctx);

    Object cancelPhase(@Input(required = false) Object tryResult, TccContext ctx);
}
