package dev.fireflytx.bridge;

import reactor.core.publisher.Mono;

/**
 * Subscribes to an engine run and reports its end to one reusable listener, keyed by an id.
 *
 * <p>Python keeps a single listener proxy per engine instead of creating a proxy per run.
 */
public final class Completions {
    /** Receives the end of a run: its value (possibly null when empty) or its error. */
    @FunctionalInterface
    public interface Listener {
        void completed(String key, Object value, Throwable error);
    }

    private Completions() {}

    /** Subscribe to {@code mono}; the listener is called exactly once. */
    public static void subscribe(Mono<?> mono, String key, Listener listener) {
        mono.subscribe(
                new reactor.core.CoreSubscriber<Object>() {
                    private boolean done;

                    @Override
                    public void onSubscribe(org.reactivestreams.Subscription s) {
                        s.request(Long.MAX_VALUE);
                    }

                    @Override
                    public void onNext(Object value) {
                        if (!done) {
                            done = true;
                            listener.completed(key, value, null);
                        }
                    }

                    @Override
                    public void onError(Throwable error) {
                        if (!done) {
                            done = true;
                            listener.completed(key, null, error);
                        }
                    }

                    @Override
                    public void onComplete() {
                        if (!done) {
                            done = true;
                            listener.completed(key, null, null);
                        }
                    }
                });
    }
}
