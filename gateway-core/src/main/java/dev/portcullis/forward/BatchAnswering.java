package dev.portcullis.forward;

import java.util.List;

/**
 * {@code batch-answers}: a 2025-03-26 batch forwarded in part (POLICY-07) gets the gateway's errors for its
 * refused requests ({@link BatchAnswers}): merged into a JSON answer in the client's order, alone when the
 * upstream answered 202 (it took only notifications), or as events of their own ahead of an SSE answer (E9).
 */
final class BatchAnswering implements ReplyTransform {
    private enum Shape { MERGED, ERRORS_ONLY, EVENTS }

    private final BatchAnswers answers;
    private final Shape shape;

    private BatchAnswering(BatchAnswers answers, Shape shape) {
        this.answers = answers;
        this.shape = shape;
    }

    /** The upstream's JSON answer merged with the gateway's errors. */
    static BatchAnswering merged(BatchAnswers answers) {
        return new BatchAnswering(answers, Shape.MERGED);
    }

    /** The gateway's errors alone, whatever the upstream's (empty) 202 said. */
    static BatchAnswering errorsOnly(BatchAnswers answers) {
        return new BatchAnswering(answers, Shape.ERRORS_ONLY);
    }

    /** Each error one event ahead of the upstream's stream. */
    static BatchAnswering events(BatchAnswers answers) {
        return new BatchAnswering(answers, Shape.EVENTS);
    }

    @Override
    public String name() {
        return "batch-answers";
    }

    @Override
    public byte[] body(byte[] body) {
        return switch (shape) {
            case MERGED -> answers.mergeJson(body);
            case ERRORS_ONLY -> answers.errorsOnly();
            case EVENTS -> body;
        };
    }

    @Override
    public List<byte[]> opening() {
        return shape == Shape.EVENTS ? answers.errorEvents() : List.of();
    }
}
