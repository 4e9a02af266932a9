package dev.fireflytx.bridge;

import org.fireflyframework.transactional.tcc.observability.TccEvents;

/**
 * A silent {@link TccEvents} sink.
 *
 * <p>{@code TccEngine} documents its events as optional, but confirm and cancel call them without a null check,
 * so passing {@code null} fails with a NullPointerException. All interface methods are default no-ops.
 */
public class NoOpTccEvents implements TccEvents {
}
