package dev.portcullis.approval;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Issue 17: where held calls and their approvals live. {@link SharedApprovals} keeps them in a
 * {@link dev.portcullis.store.ClusterStore}: the in-process {@link dev.portcullis.store.MemoryStore} for one
 * replica, or Redis/Valkey ({@link dev.portcullis.store.RedisStore}) so an approval given on one replica is
 * honoured by all. Non-blocking: futures complete on the store's threads.
 */
public interface ApprovalStore {
    /**
     * Uses the approval granted for {@code binding}, if any: a single-use one is taken (atomically: of calls
     * racing on several replicas exactly one gets it), a reusable one is read.
     *
     * @return the approved request, if one was granted and has not expired or been used
     */
    CompletableFuture<Optional<ApprovalRequest>> use(String binding);

    /** The request open for {@code binding} (pending, denied, or approved and not yet used), if any. */
    CompletableFuture<Optional<ApprovalRequest>> open(String binding);

    /**
     * Stores a new pending request, unless one is open for its binding already.
     *
     * @return the request now open for the binding: {@code request}, or the one another call made first
     */
    CompletableFuture<ApprovalRequest> create(ApprovalRequest request);

    /** The request with this id (any status, until it is forgotten a while after it expires). */
    CompletableFuture<Optional<ApprovalRequest>> find(String id);

    /**
     * Applies {@code change} to the request {@code id} (compare-and-set, retried a few times against concurrent
     * approvers); an approval that completes the count is granted for the request's binding.
     *
     * @param change computes the attempt from the current state ({@link ApprovalRequest#decide})
     */
    CompletableFuture<ApprovalRequest.Change> update(String id,
                                                     java.util.function.Function<ApprovalRequest, ApprovalRequest.Change> change);

    /** Closes {@code binding}'s open request (denied and answered, or expired), so the next call asks anew. */
    CompletableFuture<Void> close(String binding, String id);
}
