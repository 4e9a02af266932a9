package dev.fireflytx.bridge;

/** Reads a batch from {@link PythonLogAppender#take} the way the Python drainer does. */
final class LogBatches {

    private LogBatches() {}

    /** The batch's fields in order, nulls restored: event {@code i} is at {@code i * FIELDS}. */
    static String[] fields(String text) {
        if (text.isEmpty()) {
            return new String[0];
        }
        String[] flat = text.split(String.valueOf(PythonLogAppender.SEPARATOR), -1);
        for (int i = 0; i < flat.length; i++) {
            if (flat[i].equals(String.valueOf(PythonLogAppender.ABSENT))) {
                flat[i] = null;
            }
        }
        return flat;
    }
}
