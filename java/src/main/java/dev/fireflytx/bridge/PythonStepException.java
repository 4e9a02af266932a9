package dev.fireflytx.bridge;

/**
 * Carries a Python exception raised in a saga step, a compensation or a TCC phase through the engine.
 *
 * <p>The Python side keeps the original exception under {@link #getErrorId()} and gets it back when the engine
 * reports the failure. The message is never null (the engine's persistence throws on null error messages), and
 * the exception records no Java stack trace, since it would only show engine internals and costs time on every
 * failed attempt.
 */
public class PythonStepException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String pythonType;
    private final long errorId;

    /**
     * @param pythonType qualified name of the Python exception class
     * @param message    {@code str(exc)}; may be null or empty
     * @param errorId    key under which Python keeps the original exception
     */
    public PythonStepException(String pythonType, String message, long errorId) {
        super(format(pythonType, message), null, false, false);
        this.pythonType = pythonType == null || pythonType.isEmpty() ? "Exception" : pythonType;
        this.errorId = errorId;
    }

    private static String format(String pythonType, String message) {
        String type = pythonType == null || pythonType.isEmpty() ? "Exception" : pythonType;
        return type + ": " + (message == null ? "" : message);
    }

    /** Qualified name of the Python exception class. */
    public String getPythonType() {
        return pythonType;
    }

    /** Key of the original Python exception on the Python side. */
    public long getErrorId() {
        return errorId;
    }
}
