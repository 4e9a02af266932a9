package dev.fireflytx.bridge;

/**
 * Which run (and step or participant) the current thread is working for, so the engine's log lines say so.
 *
 * <p>The engine neither sets an MDC nor passes its context to its loggers. Its lines about a step are written
 * on the thread that completes the step's future (the continuation runs there), or on the thread that starts
 * the run; fireflytx tags exactly those two places. A plain thread-local array is cheaper than three MDC
 * entries, and {@link PythonLogAppender} reads it on the logging thread when the event is appended.
 */
public final class RunTags {

    private static final ThreadLocal<String[]> CURRENT = new ThreadLocal<>();

    private RunTags() {}

    /** {@code {correlationId, transactionName, unitIdOrNull}}, or null outside a tagged section. */
    public static String[] current() {
        return CURRENT.get();
    }

    /**
     * Tags the current thread until {@link #restore} is called with the returned value.
     *
     * @param tags {@code {correlationId, transactionName, unitIdOrNull}}; null untags
     * @return the tags this replaced
     */
    public static String[] enter(String[] tags) {
        String[] previous = CURRENT.get();
        CURRENT.set(tags);
        return previous;
    }

    /** Puts back what {@link #enter} replaced. */
    public static void restore(String[] previous) {
        if (previous == null) {
            CURRENT.remove();
        } else {
            CURRENT.set(previous);
        }
    }
}
