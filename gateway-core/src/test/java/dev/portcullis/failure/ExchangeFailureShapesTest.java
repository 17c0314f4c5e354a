package dev.portcullis.failure;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** EXCHANGE-04/05 and JSONRPC-08: how token endpoint failures reach the client. */
class ExchangeFailureShapesTest {

    @Test
    void exchange05EachFailureHasItsDocumentedShape() {
        assertThat(FailureResponses.shape(Reason.EXCHANGE_UNAVAILABLE))
                .isEqualTo(new FailureResponses.Shape(503, null, false, -32603));
        // The caller's token was refused as a subject: re-authenticating can help, so a 401 challenge.
        assertThat(FailureResponses.shape(Reason.EXCHANGE_SUBJECT_REJECTED))
                .isEqualTo(new FailureResponses.Shape(401, "invalid_token", true, -32603));
        // No token could change the IdP's refusal: the policy denial of JSONRPC-08b, never a 401 (no re-auth loop).
        assertThat(FailureResponses.shape(Reason.EXCHANGE_DENIED)).isEqualTo(FailureResponses.shape(Reason.POLICY_DENIED));
        assertThat(FailureResponses.shape(Reason.EXCHANGE_CLIENT_REJECTED))
                .isEqualTo(new FailureResponses.Shape(502, null, false, -32603));
        assertThat(FailureResponses.shape(Reason.EXCHANGE_INVALID_RESPONSE))
                .isEqualTo(new FailureResponses.Shape(502, null, false, -32603));
    }
}
