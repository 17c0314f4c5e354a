package dev.portcullis.store;

/** The shared store did not answer (down, timed out, or its circuit is open). No stack trace: it is expected. */
public final class StoreUnavailableException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The one instance a store with an open circuit fails with: nothing is allocated per refused call. */
    static final StoreUnavailableException CIRCUIT_OPEN = new StoreUnavailableException("circuit open", null);

    public StoreUnavailableException(String message, Throwable cause) {
        super(message, cause, false, false);
    }
}
