package dev.fireflytx.bridge;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import reactor.core.publisher.Mono;

/**
 * Batches what the engine asks of Python, and Python's answers, for the runs of one Python event loop.
 *
 * <p>Crossing between Python and Java costs microseconds each way, and wrapping a Java object for Python
 * costs more. So the engine's handlers never call Python: each request ("start attempt K of step S in run
 * R", "run R ended") becomes one line of text in a queue, and its answer a {@link StepFuture} kept here.
 * Python drains the queue and hands back every successful attempt of a loop turn in one call,
 * {@link #exchange}; completing those futures lets the engine go on, which may queue further requests,
 * and those are returned by the same call. The crossings of a run therefore do not grow with the number
 * of steps that run in one loop turn.
 *
 * <p>When a request arrives while Python is not already draining (from a timer thread after a retry's
 * backoff, say), the {@link Waker} asks Python's loop to drain once; further requests until then ride
 * along. Lines have the form {@code <kind><run> <unit> <attempt>} ({@code S} step, {@code C}
 * compensation, {@code T}/{@code K}/{@code X} TCC try/confirm/cancel) or {@code E<run>} /
 * {@code F<run>} when a run ended normally or with an engine error (read with {@link #failure}).
 */
public final class RunPump {

    /** Asks Python's event loop to call {@link #exchange} soon; called from any thread, never blocks. */
    @FunctionalInterface
    public interface Waker {
        void wake();
    }

    /**
     * Starts one run of a definition on an engine; {@link SagaRuns#launcher} and {@link TccRuns#launcher} make
     * them. Registered with a pump ({@link #addLauncher}) so that a start can travel as a line of text.
     */
    @FunctionalInterface
    public interface Launcher {
        /** Starts the run; its requests and its end are queued on {@code pump} under {@code runKey}. */
        void launch(String correlationId, String runKey, RunPump pump);
    }

    private static final AtomicLong ATTEMPTS = new AtomicLong();
    private static final AtomicLong LAUNCHERS = new AtomicLong();

    private final Waker waker;
    private final ConcurrentLinkedQueue<String> requests = new ConcurrentLinkedQueue<>();
    private final ConcurrentHashMap<String, StepFuture> pending = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Throwable> failures = new ConcurrentHashMap<>();
    /** True while Python is draining or has been woken and will drain: no further wake-up is needed. */
    private final AtomicBoolean awake = new AtomicBoolean();
    private final ConcurrentHashMap<String, Launcher> launchers = new ConcurrentHashMap<>();

    public RunPump(Waker waker) {
        this.waker = waker;
    }

    /**
     * Queues a request for Python and returns the Mono the engine waits on.
     *
     * @param kind the request's letter (see the class comment)
     * @param tags {@link RunTags} for the engine's log lines written when Python answers; may be null
     */
    public Mono<Object> request(char kind, String runKey, String unitKey, String[] tags) {
        String attemptKey = Long.toString(ATTEMPTS.incrementAndGet());
        StepFuture future = new StepFuture(attemptKey, null, tags, answerFor(kind));
        pending.put(attemptKey, future);
        post(kind + runKey + ' ' + unitKey + ' ' + attemptKey);
        return future.mono();
    }

    /**
     * What a successful attempt of this kind completes with. A saga step's or compensation's Mono completes
     * empty: the engine keeps no value for it (Python keeps the results), and a value would only be
     * discarded along the engine's operators, each discard walking the whole subscriber chain for its
     * context (about a sixteenth of the engine's time per step on long chains). A TCC phase needs a value:
     * the engine leaves a participant whose try completes empty in TRYING.
     */
    static Object answerFor(char kind) {
        return kind == 'S' || kind == 'C' ? null : Boolean.TRUE;
    }

    /** Queues the end of a run: {@code error} null means it ended normally. */
    public void ended(String runKey, Throwable error) {
        if (error == null) {
            post("E" + runKey);
        } else {
            failures.put(runKey, error);
            post("F" + runKey);
        }
    }

    private void post(String line) {
        requests.add(line);
        if (awake.compareAndSet(false, true)) {
            try {
                waker.wake();
            } catch (Throwable error) {
                // Python could not be told now; the next call that drains will still find the line.
                awake.set(false);
            }
        }
    }

    /**
     * Completes the attempts Python reports as succeeded, then returns every queued request, one per line.
     *
     * @param succeeded attempt keys separated by single spaces (may be empty)
     */
    public String exchange(String succeeded) {
        awake.set(true);
        complete(succeeded);
        return drain();
    }

    private void complete(String succeeded) {
        int start = 0;
        int length = succeeded.length();
        while (start < length) {
            int end = succeeded.indexOf(' ', start);
            if (end < 0) {
                end = length;
            }
            StepFuture future = pending.remove(succeeded.substring(start, end));
            if (future != null) {
                future.answer();
            }
            start = end + 1;
        }
    }

    /**
     * Completes the attempts Python reports as succeeded, starts the runs it asks for, then returns every
     * queued request: a busy loop's run starts ride on its batch of answers instead of a crossing each.
     *
     * @param succeeded attempt keys separated by single spaces (may be empty)
     * @param starts one run per line: {@code <launcher> <runKey> <correlationId>}, the correlation id being
     *     the rest of the line; a run that cannot start ends at once with the error ({@code F<runKey>})
     */
    public String exchangeAndStart(String succeeded, String starts) {
        awake.set(true);
        complete(succeeded);
        int start = 0;
        int length = starts.length();
        while (start < length) {
            int end = starts.indexOf('\n', start);
            if (end < 0) {
                end = length;
            }
            launch(starts.substring(start, end));
            start = end + 1;
        }
        return drain();
    }

    private void launch(String line) {
        String[] fields = line.split(" ", 3);  // launcher, run key, correlation id (the rest of the line)
        if (fields.length < 3) {
            if (fields.length == 2) {  // Python always writes three fields: end the run it names, never hang it
                ended(fields[1], new IllegalArgumentException("malformed start line: " + line));
            }
            return;
        }
        try {
            Launcher launcher = launchers.get(fields[0]);
            if (launcher == null) {
                throw new IllegalStateException("no launcher " + fields[0] + " on this pump");
            }
            launcher.launch(fields[2], fields[1], this);
        } catch (RuntimeException | Error error) {
            ended(fields[1], error);
        }
    }

    /** Registers {@code launcher} for {@link #exchangeAndStart}'s lines; returns the name they use for it. */
    public String addLauncher(Launcher launcher) {
        String id = Long.toString(LAUNCHERS.incrementAndGet());
        launchers.put(id, launcher);
        return id;
    }

    /** Forgets a launcher (its definition was replaced); false if it was not registered. */
    public boolean removeLauncher(String id) {
        return launchers.remove(id) != null;
    }

    /**
     * Runs {@code start} (which starts a run) with Python counted as awake, then returns what it queued: Python is
     * the caller, so it needs no wake-up to learn of the run's first requests.
     */
    public String during(Runnable start) {
        awake.set(true);
        try {
            start.run();
        } catch (RuntimeException | Error error) {
            // Python gets the exception instead of the lines: let anything queued wake it as usual.
            awake.set(false);
            if (!requests.isEmpty() && awake.compareAndSet(false, true)) {
                waker.wake();
            }
            throw error;
        }
        return drain();
    }

    /** Returns every queued request. */
    public String drain() {
        awake.set(true);
        StringBuilder out = new StringBuilder();
        while (true) {
            String line;
            while ((line = requests.poll()) != null) {
                out.append(line).append('\n');
            }
            awake.set(false);
            // A request that slipped in before awake was cleared found it set and woke nobody.
            if (requests.isEmpty() || !awake.compareAndSet(false, true)) {
                return out.toString();
            }
        }
    }

    /** Fails one attempt with a Python error's type name and message; false if it was not pending. */
    public boolean fail(String attemptKey, String pythonType, String message) {
        StepFuture future = pending.remove(attemptKey);
        return future != null && future.failWithPython(pythonType, message, 0);
    }

    /**
     * Fails one attempt like {@link #fail}, then returns every queued request, as {@link #exchange} does for
     * successes: what the engine asks next (a retry, a compensation) comes back on this call instead of waking
     * Python's loop through the {@link Waker}.
     */
    public String failAndDrain(String attemptKey, String pythonType, String message) {
        awake.set(true);
        fail(attemptKey, pythonType, message);
        return drain();
    }

    /** The engine error that ended run {@code runKey} (announced by an {@code F} line), once. */
    public Throwable failure(String runKey) {
        return failures.remove(runKey);
    }

    /** Attempts still waiting for Python's answer (for tests and diagnostics). */
    public int pendingAttempts() {
        return pending.size();
    }
}
