package dev.fireflytx.bridge;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.DelayQueue;
import java.util.concurrent.Delayed;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.RunnableFuture;
import java.util.concurrent.RunnableScheduledFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * A scheduled executor that owns no threads: callers lend theirs by calling {@link #runWorker()}.
 *
 * <p>Why: a Java-to-Python call is cheap only on a thread that already has a Python thread state. On threads the
 * JVM created (such as Reactor's {@code parallel-N}) each call costs about 25 µs, loses {@code threading.local}
 * and leaks memory under JPype 1.7.1. fireflytx therefore starts worker threads in Python and parks them here,
 * and {@link #installAsReactorParallel} makes Reactor's parallel scheduler, which the engine uses for retry
 * backoff ({@code Mono.delay}) and timeouts ({@code Mono.timeout}), run on them.
 *
 * <p>Semantics: tasks run when due, in submission order among tasks due at the same time. Periodic tasks are
 * re-queued after each run until cancelled or until one run throws. A cancelled task is removed and never run.
 * {@link #shutdown()} rejects new tasks and cancels periodic and not-yet-due tasks; tasks already due are still
 * run, then every {@code runWorker} call returns. {@link #shutdownNow()} returns the queued tasks without running
 * them; workers return after the task they are running. The executor terminates once it is shut down, its queue
 * is empty and no thread is inside {@code runWorker}.
 */
public class ParkedThreadExecutor extends AbstractExecutorService implements ScheduledExecutorService {

    private static final AtomicBoolean REACTOR_INSTALLED = new AtomicBoolean();

    /** One-shot tasks due this far ahead or later are never queued (50 years; see {@code enqueueOneShot}). */
    static final long NEVER_MS = 50L * 365 * 24 * 3600 * 1000;

    private final DelayQueue<Task<?>> queue = new DelayQueue<>();
    private final AtomicLong sequence = new AtomicLong();
    private final AtomicInteger workers = new AtomicInteger();
    private final Object terminationLock = new Object();
    private volatile boolean shutdown;

    /**
     * Queued once at shutdown, due at that moment (so after every task already due). Each worker that takes it
     * puts it back and returns, so one pill stops all workers, present and future.
     */
    private volatile Task<Void> poisonPill;

    /**
     * Makes Reactor's {@link Schedulers#parallel()} (and every {@link Schedulers#newParallel}) run on {@code executor}.
     *
     * <p>Call it once per JVM, before anything uses {@link Schedulers#parallel()}: {@code setFactory} disposes the
     * parallel scheduler created so far, so work already scheduled there may be dropped.
     *
     * @throws IllegalStateException if called a second time in this JVM
     */
    public static void installAsReactorParallel(ParkedThreadExecutor executor) {
        Objects.requireNonNull(executor, "executor");
        if (!REACTOR_INSTALLED.compareAndSet(false, true)) {
            throw new IllegalStateException(
                    "ParkedThreadExecutor.installAsReactorParallel was already called in this JVM; "
                            + "Reactor's scheduler factory is JVM-global and can be installed only once");
        }
        Schedulers.setFactory(new Schedulers.Factory() {
            @Override
            public Scheduler newParallel(int parallelism, ThreadFactory threadFactory) {
                return Schedulers.fromExecutorService(executor, "fireflytx-parallel");
            }
        });
    }

    // ---------------------------------------------------------------- worker side

    /**
     * Runs due tasks on the calling thread until the executor is shut down, then returns.
     * Any number of threads may call this concurrently.
     */
    public void runWorker() {
        workers.incrementAndGet();
        try {
            while (true) {
                Task<?> task;
                try {
                    task = queue.take();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                if (task == poisonPill) {
                    queue.add(task);
                    return;
                }
                runTask(task);
            }
        } finally {
            workers.decrementAndGet();
            signalTermination();
        }
    }

    private void runTask(Task<?> task) {
        try {
            if (!task.isPeriodic()) {
                task.run();
            } else if (task.runAndReset() && !shutdown) {
                // runAndReset is false when the run threw or the task was cancelled: stop repeating.
                task.setNextRunTime();
                queue.add(task);
                if (shutdown && queue.remove(task)) {
                    task.cancel(false); // shutdown ran in between and could not see this task
                }
            } else {
                task.cancel(false);
            }
        } catch (Throwable ignored) {
            // FutureTask already captures task failures; this only guards the loop itself.
        }
    }

    // ---------------------------------------------------------------- submission

    @Override
    public void execute(Runnable command) {
        Objects.requireNonNull(command, "command");
        schedule(command, 0, TimeUnit.NANOSECONDS);
    }

    @Override
    public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
        Objects.requireNonNull(command, "command");
        return enqueueOneShot(new Task<>(Executors.callable(command), triggerTime(delay, unit), 0L,
                sequence.getAndIncrement()), delay, unit);
    }

    @Override
    public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
        Objects.requireNonNull(callable, "callable");
        return enqueueOneShot(new Task<>(callable, triggerTime(delay, unit), 0L, sequence.getAndIncrement()),
                delay, unit);
    }

    /**
     * Queues a one-shot task, unless it is due {@link #NEVER_MS} or later: such a task could not run in a process's
     * lifetime, so it is returned unqueued (cancellable, never run).
     *
     * <p>Why: the TCC engine cannot switch a phase timeout off, so fireflytx gives it about a century
     * ({@link EngineFacade#NO_LIMIT_MS}), and Reactor schedules that timeout here for every phase, then cancels it
     * when the phase ends. Queued, each one became the head of an empty queue and woke a parked worker, which
     * only found a century to wait: a thread wake-up per phase, and two busy threads under load.
     */
    private <V> Task<V> enqueueOneShot(Task<V> task, long delay, TimeUnit unit) {
        if (unit.toMillis(delay) < NEVER_MS) {
            return enqueueNew(task);
        }
        if (shutdown) {
            throw new RejectedExecutionException("ParkedThreadExecutor is shut down");
        }
        return task;
    }

    @Override
    public ScheduledFuture<?> scheduleAtFixedRate(Runnable command, long initialDelay, long period, TimeUnit unit) {
        Objects.requireNonNull(command, "command");
        if (period <= 0) {
            throw new IllegalArgumentException("period must be positive");
        }
        return enqueueNew(new Task<>(Executors.callable(command), triggerTime(initialDelay, unit),
                unit.toNanos(period), sequence.getAndIncrement()));
    }

    @Override
    public ScheduledFuture<?> scheduleWithFixedDelay(Runnable command, long initialDelay, long delay, TimeUnit unit) {
        Objects.requireNonNull(command, "command");
        if (delay <= 0) {
            throw new IllegalArgumentException("delay must be positive");
        }
        return enqueueNew(new Task<>(Executors.callable(command), triggerTime(initialDelay, unit),
                -unit.toNanos(delay), sequence.getAndIncrement()));
    }

    @Override
    public <T> Future<T> submit(Callable<T> task) {
        return enqueueNew(dueNow(Objects.requireNonNull(task, "task")));
    }

    @Override
    public Future<?> submit(Runnable task) {
        return enqueueNew(dueNow(Executors.callable(Objects.requireNonNull(task, "task"))));
    }

    @Override
    public <T> Future<T> submit(Runnable task, T result) {
        return enqueueNew(dueNow(Executors.callable(Objects.requireNonNull(task, "task"), result)));
    }

    @Override
    protected <T> RunnableFuture<T> newTaskFor(Callable<T> callable) {
        return dueNow(callable);
    }

    @Override
    protected <T> RunnableFuture<T> newTaskFor(Runnable runnable, T value) {
        return dueNow(Executors.callable(runnable, value));
    }

    private <V> Task<V> dueNow(Callable<V> callable) {
        return new Task<>(callable, System.nanoTime(), 0L, sequence.getAndIncrement());
    }

    private <V> Task<V> enqueueNew(Task<V> task) {
        if (shutdown) {
            throw new RejectedExecutionException("ParkedThreadExecutor is shut down");
        }
        task.queued = true;
        queue.add(task);
        // A concurrent shutdown may have missed this task: take it back out rather than strand it.
        if (shutdown && queue.remove(task)) {
            task.cancel(false);
            throw new RejectedExecutionException("ParkedThreadExecutor is shut down");
        }
        return task;
    }

    private static long triggerTime(long delay, TimeUnit unit) {
        long nanos = unit.toNanos(Math.max(delay, 0L));
        long now = System.nanoTime();
        // Guard against overflow for "effectively never" delays.
        return nanos > Long.MAX_VALUE / 2 ? now + Long.MAX_VALUE / 2 : now + nanos;
    }

    // ---------------------------------------------------------------- lifecycle

    @Override
    public void shutdown() {
        shutdown = true;
        for (Task<?> task : queue.toArray(new Task<?>[0])) {
            if (task.isPeriodic() || task.getDelay(TimeUnit.NANOSECONDS) > 0) {
                task.cancel(false); // also removes it from the queue
            }
        }
        addPoisonPill();
        signalTermination();
    }

    @Override
    public List<Runnable> shutdownNow() {
        shutdown = true;
        // DelayQueue.drainTo only takes expired elements, so remove one by one.
        List<Runnable> notRun = new ArrayList<>();
        for (Task<?> task : queue.toArray(new Task<?>[0])) {
            if (task != poisonPill && queue.remove(task)) {
                notRun.add(task);
            }
        }
        addPoisonPill();
        signalTermination();
        return notRun;
    }

    @Override
    public boolean isShutdown() {
        return shutdown;
    }

    @Override
    public boolean isTerminated() {
        if (!shutdown || workers.get() > 0) {
            return false;
        }
        for (Task<?> task : queue) {
            if (task != poisonPill) {
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        synchronized (terminationLock) {
            while (!isTerminated()) {
                long remaining = deadline - System.nanoTime();
                if (remaining <= 0) {
                    return false;
                }
                // Bounded wait: termination may also come from a task leaving the queue without a worker.
                TimeUnit.NANOSECONDS.timedWait(terminationLock, Math.min(remaining, TimeUnit.MILLISECONDS.toNanos(50)));
            }
            return true;
        }
    }

    private synchronized void addPoisonPill() {
        if (poisonPill == null) {
            poisonPill = new Task<>(() -> null, System.nanoTime(), 0L, sequence.getAndIncrement());
        }
        if (!queue.contains(poisonPill)) {
            queue.add(poisonPill); // a duplicate from a racing worker is harmless
        }
    }

    private void signalTermination() {
        synchronized (terminationLock) {
            terminationLock.notifyAll();
        }
    }

    /** Number of queued tasks, for diagnostics. */
    public int queuedTaskCount() {
        int n = queue.size();
        Task<Void> pill = poisonPill;
        return pill != null && queue.contains(pill) ? n - 1 : n;
    }

    // ---------------------------------------------------------------- task

    private final class Task<V> extends FutureTask<V> implements RunnableScheduledFuture<V> {

        /** Positive: fixed rate; negative: fixed delay; zero: one-shot. */
        private final long period;
        private final long seq;
        private volatile long time;
        /** Put in the queue (a task due {@link #NEVER_MS} or later never is). */
        private volatile boolean queued;

        Task(Callable<V> callable, long time, long period, long seq) {
            super(callable);
            this.time = time;
            this.period = period;
            this.seq = seq;
        }

        @Override
        public long getDelay(TimeUnit unit) {
            return unit.convert(time - System.nanoTime(), TimeUnit.NANOSECONDS);
        }

        @Override
        public int compareTo(Delayed other) {
            if (other == this) {
                return 0;
            }
            if (other instanceof Task<?> t) {
                long diff = time - t.time;
                if (diff != 0) {
                    return diff < 0 ? -1 : 1;
                }
                return Long.compare(seq, t.seq);
            }
            return Long.compare(getDelay(TimeUnit.NANOSECONDS), other.getDelay(TimeUnit.NANOSECONDS));
        }

        @Override
        public boolean isPeriodic() {
            return period != 0;
        }

        void setNextRunTime() {
            time = period > 0 ? time + period : System.nanoTime() - period;
        }

        @Override
        public boolean runAndReset() {
            return super.runAndReset();
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            boolean cancelled = super.cancel(mayInterruptIfRunning);
            if (cancelled) {
                // Keep the queue small: Reactor cancels a timeout task every time a step finishes in time.
                if (queued) {
                    queue.remove(this);
                }
                if (shutdown) {
                    signalTermination(); // nobody awaits termination before a shutdown
                }
            }
            return cancelled;
        }
    }
}
