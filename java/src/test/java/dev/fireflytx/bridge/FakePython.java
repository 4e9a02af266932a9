package dev.fireflytx.bridge;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Predicate;

/**
 * Python's side of a {@link RunPump} for tests: a single thread that drains the pump when woken and answers
 * every request at once, failing those {@code fails} picks. It records every line it saw.
 */
final class FakePython implements AutoCloseable {

    final List<String> lines = new CopyOnWriteArrayList<>();
    final ConcurrentHashMap<String, CompletableFuture<String>> ends = new ConcurrentHashMap<>();
    final RunPump pump;
    private final ExecutorService loop = Executors.newSingleThreadExecutor();
    private final Predicate<String> fails;

    FakePython(Predicate<String> fails) {
        this.fails = fails;
        this.pump = new RunPump(() -> loop.execute(this::turn));
    }

    /** The end of run {@code runKey}: "E" or "F", once announced. */
    CompletableFuture<String> end(String runKey) {
        return ends.computeIfAbsent(runKey, k -> new CompletableFuture<>());
    }

    /** Answers lines that a start call returned, on the fake loop. */
    void handle(String text) {
        loop.execute(() -> answer(text));
    }

    private void turn() {
        answer(pump.exchange(""));
    }

    private void answer(String text) {
        StringBuilder succeeded = new StringBuilder();
        for (String line : text.split("\n")) {
            if (line.isEmpty()) {
                continue;
            }
            lines.add(line);
            char kind = line.charAt(0);
            if (kind == 'E' || kind == 'F') {
                end(line.substring(1)).complete(String.valueOf(kind));
                continue;
            }
            String[] parts = line.substring(1).split(" ");
            if (fails.test(kind + parts[1])) {
                pump.fail(parts[2], "RuntimeError", parts[1] + " failed");
            } else {
                succeeded.append(succeeded.length() == 0 ? "" : " ").append(parts[2]);
            }
        }
        if (succeeded.length() > 0) {
            answer(pump.exchange(succeeded.toString()));
        }
    }

    @Override
    public void close() {
        loop.shutdownNow();
    }
}
