package dev.fireflytx.bridge;

/** Told when the engine cancels a pending {@link StepFuture}, so Python can cancel the matching coroutine. */
@FunctionalInterface
public interface CancelListener {

    /** @param key the key the cancelled {@link StepFuture} was created with */
    void cancelled(String key);
}
