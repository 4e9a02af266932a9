package dev.fireflytx.bridge;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.AppenderBase;

/**
 * Hands engine log events to Python logging without calling into Python from the logging thread.
 *
 * <p>Events are queued as {@code String[]{level, logger, message, thread, throwableOrNull, correlationId,
 * transactionName, unitId}} (the last three from {@link RunTags}, null outside a run); a Python drainer
 * thread takes them in batches with {@link #take(long, long, int)}. Logging from arbitrary JVM threads into
 * Python directly would be slow and could deadlock on the GIL. The queue is bounded: when it is full, events
 * are dropped and counted.
 *
 * <p>Why batches: every time the drainer returns to Python it needs the GIL, which the event loop running the
 * sagas holds between its calls into Java. Waking it once per event made a failing saga (one WARN line from
 * the engine) about twice as slow; waking it at most once per linger period makes the cost per event a few
 * microseconds.
 */
public class PythonLogAppender extends AppenderBase<ILoggingEvent> {

    /** Capacity of the shared queue. */
    public static final int CAPACITY = 10_000;

    /** Fields per event, in what {@link #poll} and {@link #take} return. */
    public static final int FIELDS = 8;

    /** Between two fields in what {@link #take} returns. */
    public static final char SEPARATOR = '\u0000';

    /** A null field in what {@link #take} returns. */
    public static final char ABSENT = '\u0001';

    private static final BlockingQueue<String[]> QUEUE = new LinkedBlockingQueue<>(CAPACITY);
    private static final AtomicLong DROPPED = new AtomicLong();

    @Override
    protected void append(ILoggingEvent event) {
        IThrowableProxy proxy = event.getThrowableProxy();
        String[] tags = RunTags.current();
        String[] record = {
            event.getLevel().toString(),
            event.getLoggerName(),
            event.getFormattedMessage(),
            event.getThreadName(),
            proxy == null ? null : ThrowableProxyUtil.asString(proxy),
            tags == null ? null : tags[0],
            tags == null ? null : tags[1],
            tags == null ? null : tags[2],
        };
        if (!QUEUE.offer(record)) {
            DROPPED.incrementAndGet();
        }
    }

    /**
     * Takes the next event, waiting up to {@code timeoutMillis}.
     *
     * @return {@code {level, logger, message, thread, throwableOrNull, correlationId, transactionName, unitId}},
     *         or null on timeout or interruption
     */
    public static String[] poll(long timeoutMillis) {
        try {
            return QUEUE.poll(timeoutMillis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /**
     * Waits up to {@code waitMillis} for an event; once one is there, lets more arrive for {@code lingerMillis},
     * then returns up to {@code max} events in arrival order as one string: every event's {@link #FIELDS} fields
     * (see {@link #poll} for their meaning), each separated from the next by {@link #SEPARATOR}, a null field
     * written as {@link #ABSENT}. Those two characters inside a field become U+FFFD. Empty on timeout or
     * interruption.
     *
     * <p>One string, because each Java string handed to Python is a crossing of its own: a batch of one event
     * as an array cost eight.
     */
    public static String take(long waitMillis, long lingerMillis, int max) {
        String[] first = poll(waitMillis);
        if (first == null) {
            return "";
        }
        if (lingerMillis > 0) {
            try {
                Thread.sleep(lingerMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        List<String[]> events = new ArrayList<>();
        events.add(first);
        QUEUE.drainTo(events, Math.max(max, 1) - 1);
        StringBuilder out = new StringBuilder(events.size() * 160);
        boolean firstField = true;
        for (String[] event : events) {
            for (String field : event) {
                if (!firstField) {
                    out.append(SEPARATOR);
                }
                firstField = false;
                if (field == null) {
                    out.append(ABSENT);
                } else if (field.indexOf(SEPARATOR) >= 0 || field.indexOf(ABSENT) >= 0) {
                    out.append(field.replace(SEPARATOR, '\uFFFD').replace(ABSENT, '\uFFFD'));
                } else {
                    out.append(field);
                }
            }
        }
        return out.toString();
    }

    /** Events dropped so far because the queue was full. */
    public static long droppedCount() {
        return DROPPED.get();
    }

    /**
     * Sets a Logback logger's level at run time.
     *
     * @param loggerName a logger name, or {@code "ROOT"} for the root logger
     * @param levelName  TRACE, DEBUG, INFO, WARN (or WARNING), ERROR (or CRITICAL), OFF; null or empty clears
     *                   the level of a non-root logger so it inherits again
     * @throws IllegalArgumentException for an unknown level name
     * @throws IllegalStateException    if SLF4J is not bound to Logback
     */
    public static void setLevel(String loggerName, String levelName) {
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
            throw new IllegalStateException("SLF4J is not bound to Logback: " + LoggerFactory.getILoggerFactory());
        }
        Logger logger = context.getLogger(
                loggerName == null || loggerName.equalsIgnoreCase(Logger.ROOT_LOGGER_NAME)
                        ? Logger.ROOT_LOGGER_NAME : loggerName);
        logger.setLevel(toLevel(levelName, logger == context.getLogger(Logger.ROOT_LOGGER_NAME)));
    }

    private static Level toLevel(String name, boolean root) {
        if (name == null || name.isBlank()) {
            if (root) {
                throw new IllegalArgumentException("the root logger needs a level");
            }
            return null;
        }
        String upper = name.trim().toUpperCase(java.util.Locale.ROOT);
        switch (upper) {
            case "WARNING":
                return Level.WARN;
            case "CRITICAL":
            case "FATAL":
                return Level.ERROR;
            default:
                Level level = Level.toLevel(upper, null);
                if (level == null) {
                    throw new IllegalArgumentException("unknown log level: " + name);
                }
                return level;
        }
    }

    /** Empties the queue and resets the drop counter; for tests. */
    static void resetForTests() {
        QUEUE.clear();
        DROPPED.set(0);
    }
}
