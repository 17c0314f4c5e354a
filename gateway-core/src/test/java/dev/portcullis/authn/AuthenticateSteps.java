package dev.portcullis.authn;

import dev.portcullis.Step;
import dev.portcullis.failure.GatewayFailure;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

/** Test shorthand for the authenticate stage: the refusal a step ends in, now or later. */
final class AuthenticateSteps {
    private AuthenticateSteps() {}

    /** The failure {@code call} throws or its future completes with; an assertion error when it is accepted. */
    static GatewayFailure failure(ThrowingStep call) {
        try {
            Step<AuthenticatedRequest> step = call.run();
            step.future().get(5, TimeUnit.SECONDS);
        } catch (GatewayFailure f) {
            return f;
        } catch (java.util.concurrent.ExecutionException | CompletionException e) {
            Throwable cause = e.getCause();
            while (cause instanceof CompletionException && cause.getCause() != null) {
                cause = cause.getCause();
            }
            if (cause instanceof GatewayFailure f) {
                return f;
            }
            throw new AssertionError(e);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        throw new AssertionError("accepted");
    }

    @FunctionalInterface
    interface ThrowingStep {
        Step<AuthenticatedRequest> run() throws Exception;
    }

}
