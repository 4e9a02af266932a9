package dev.fireflytx.bridge;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;

import reactor.core.publisher.Mono;

/**
 * The Java half of an asynchronous Python step: Python completes it, the engine sees it as a {@link Mono}.
 *
 * <p>When the engine gives up on the step (timeout, saga cancellation), Reactor cancels the Mono, which cancels
 * this future; the {@link CancelListener} is then told once, so Python can cancel the work it started.
 * Completion callbacks run on the thread that completes the future, which avoids a thread hop per step.
 */
public class StepFuture extends CompletableFuture<Object> {

    private final String key;
    private final CancelListener listener;
    private final String[] tags;
    private final Object answer;

    /**
     * @param id       opaque id handed back to {@code listener}
     * @param listener told when this future is cancelled; may be null
     */
    public StepFuture(String key, CancelListener listener) {
        this(key, listener, null);
    }

    /**
     * @param id       opaque id handed back to {@code listener}
     * @param listener told when this future is cancelled; may be null
     * @param tags     {@link RunTags} for the engine's log lines written while completing; may be null
     */
    public StepFuture(String key, CancelListener listener, String[] tags) {
        this(key, listener, tags, Boolean.TRUE);
    }

    /**
     * @param id       opaque id handed back to {@code listener}
     * @param listener told when this future is cancelled; may be null
     * @param tags     {@link RunTags} for the engine's log lines written while completing; may be null
     * @param answer   what {@link #answer()} completes it with: null makes {@link #mono()} complete empty
     */
    public StepFuture(String key, CancelListener listener, String[] tags, Object answer) {
        this.key = key;
        this.listener = listener;
        this.tags = tags;
        this.answer = answer;
    }

    /** Completes, with the engine's continuation (which runs on this thread) tagged with the run. */
    @Override
    public boolean complete(Object value) {
        if (tags == null) {
            return super.complete(value);
        }
        String[] previous = RunTags.enter(tags);
        try {
            return super.complete(value);
        } finally {
            RunTags.restore(previous);
        }
    }

    /** Completes exceptionally, with the engine's continuation tagged with the run. */
    @Override
    public boolean completeExceptionally(Throwable error) {
        if (tags == null) {
            return super.completeExceptionally(error);
        }
        String[] previous = RunTags.enter(tags);
        try {
            return super.completeExceptionally(error);
        } finally {
            RunTags.restore(previous);
        }
    }

    /** The key this future was created with. */
    public String key() {
        return key;
    }

    /** A Mono over this future; cancelling the Mono cancels the future. */
    public Mono<Object> mono() {
        return Mono.fromFuture(this);
    }

    /** Completes with the answer it was made with (Python answered: the attempt succeeded). */
    public boolean answer() {
        return complete(answer);
    }

    /** Completes with {@code value}; returns false if already completed. */
    public boolean succeed(Object value) {
        return complete(value);
    }

    /**
     * Completes with a {@link PythonStepException} built here from a Python error's type and message.
     *
     * <p>Python could build the exception itself, but every Java {@code Throwable} created from Python
     * leaks about 200 bytes in JPype 1.7.1; strings and a long cross cleanly.
     *
     * @return false if already completed
     */
    public boolean failWithPython(String pythonType, String message, long errorId) {
        return completeExceptionally(new PythonStepException(pythonType, message, errorId));
    }

    /** Completes with {@code error}; returns false if already completed. */
    public boolean fail(Throwable error) {
        return completeExceptionally(error);
    }

    /**
     * Cancels this future and notifies the listener if this call is the one that cancelled it.
     *
     * <p>{@link CompletableFuture#cancel} also returns true when the future was cancelled earlier, so the
     * transition is detected through {@link #completeExceptionally}, which reports whether it completed the
     * future. The resulting state is the same as with the inherited cancel.
     */
    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
        boolean transitioned = completeExceptionally(new CancellationException("step cancelled"));
        if (transitioned && listener != null) {
            try {
                listener.cancelled(key);
            } catch (Throwable ignored) {
                // A failing listener must not break Reactor's cancellation path.
            }
        }
        return transitioned || isCancelled();
    }
}
