package dev.fireflytx.bridge;

import org.fireflyframework.transactional.saga.observability.SagaEvents;

/**
 * A silent {@link SagaEvents} sink.
 *
 * <p>The engine requires a non-null sink, and its stock {@code SagaLoggerEvents} logs a line per step. Every
 * interface method is a default no-op, so nothing needs overriding; being a real Java class (not a JPype proxy)
 * also avoids JPype's inability to reach default methods that take parameters.
 */
public class NoOpSagaEvents implements SagaEvents {
}
