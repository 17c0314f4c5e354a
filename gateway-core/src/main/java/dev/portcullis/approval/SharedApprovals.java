package dev.portcullis.approval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.portcullis.store.ClusterStore;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * Issue 17: {@link ApprovalStore} on a {@link ClusterStore}. Three kinds of entry, all expiring:
 * <ul>
 *   <li>{@code approval:req:<id>} → the request (JSON), kept {@link #KEEP} past its expiry so the page can
 *       say "expired" and the expiry is audited once;</li>
 *   <li>{@code approval:open:<binding>} → the id of the request open for that call, until it expires;</li>
 *   <li>{@code approval:grant:<binding>} → the id of the approved request, until it expires: taken atomically by
 *       the one call it lets through (single-use), or read by each (reusable).</li>
 * </ul>
 */
public final class SharedApprovals implements ApprovalStore {
    /** How long a request is kept after it expired (to show and audit its end). */
    static final Duration KEEP = Duration.ofHours(1);
    private static final int ATTEMPTS = 5;
    private static final ObjectMapper JSON = JsonMapper.builder().build();

    private final ClusterStore store;
    private final Clock clock;

    public SharedApprovals(ClusterStore store, Clock clock) {
        this.store = store;
        this.clock = clock;
    }

    static String requestKey(String id) {
        return "approval:req:" + id;
    }

    static String openKey(String binding) {
        return "approval:open:" + binding;
    }

    static String grantKey(String binding) {
        return "approval:grant:" + binding;
    }

    @Override
    public CompletableFuture<Optional<ApprovalRequest>> use(String binding) {
        return store.get(grantKey(binding)).thenCompose(id -> {
            if (id.isEmpty()) {
                return CompletableFuture.completedFuture(Optional.<ApprovalRequest>empty());
            }
            return store.get(requestKey(id.get())).thenCompose(text -> {
                Optional<ApprovalRequest> found = text.map(SharedApprovals::parse);
                long now = clock.millis();
                if (found.isEmpty() || found.get().status() != ApprovalRequest.Status.APPROVED || found.get().expired(now)
                        || !found.get().binding().equals(binding)) {
                    return CompletableFuture.completedFuture(Optional.<ApprovalRequest>empty());
                }
                ApprovalRequest approved = found.get();
                if (!approved.singleUse()) {
                    return CompletableFuture.completedFuture(Optional.of(approved));
                }
                // Single use: whoever takes the grant is the one call it lets through.
                return store.take(grantKey(binding)).thenCompose(taken -> {
                    if (taken.isEmpty() || !taken.get().equals(approved.id())) {
                        return CompletableFuture.completedFuture(Optional.<ApprovalRequest>empty());
                    }
                    ApprovalRequest used = approved.with(ApprovalRequest.Status.USED, approved.decisions());
                    return store.replace(requestKey(approved.id()), text.get(), json(used), untilExpiry(used).plus(KEEP))
                            .thenCompose(ignored -> close(binding, approved.id()))
                            .thenApply(ignored -> Optional.of(used));
                });
            });
        });
    }

    @Override
    public CompletableFuture<Optional<ApprovalRequest>> open(String binding) {
        return store.get(openKey(binding)).thenCompose(id -> id.isEmpty()
                ? CompletableFuture.completedFuture(Optional.empty()) : find(id.get()));
    }

    @Override
    public CompletableFuture<ApprovalRequest> create(ApprovalRequest request) {
        Duration open = untilExpiry(request);
        return store.putIfAbsent(requestKey(request.id()), json(request), open.plus(KEEP))
                .thenCompose(stored -> store.putIfAbsent(openKey(request.binding()), request.id(), open))
                .thenCompose(mine -> mine ? CompletableFuture.completedFuture(request)
                        : open(request.binding()).thenApply(other -> other.orElse(request)));
    }

    @Override
    public CompletableFuture<Optional<ApprovalRequest>> find(String id) {
        return store.get(requestKey(id)).thenApply(text -> text.map(SharedApprovals::parse));
    }

    @Override
    public CompletableFuture<ApprovalRequest.Change> update(String id, Function<ApprovalRequest, ApprovalRequest.Change> change) {
        return attempt(id, change, ATTEMPTS);
    }

    private CompletableFuture<ApprovalRequest.Change> attempt(String id, Function<ApprovalRequest, ApprovalRequest.Change> change,
                                                             int left) {
        return store.get(requestKey(id)).thenCompose(text -> {
            if (text.isEmpty()) {
                return CompletableFuture.completedFuture(new ApprovalRequest.Change(ApprovalRequest.Outcome.NOT_FOUND, null));
            }
            ApprovalRequest before = parse(text.get());
            ApprovalRequest.Change result = change.apply(before);
            if (result.after() == null || result.after().equals(before)) {
                return CompletableFuture.completedFuture(result);
            }
            return store.replace(requestKey(id), text.get(), json(result.after()), untilExpiry(result.after()).plus(KEEP))
                    .thenCompose(replaced -> {
                        if (!replaced) {
                            if (left <= 1) {
                                return CompletableFuture.failedFuture(new IllegalStateException(
                                        "approval " + id + " changed " + ATTEMPTS + " times while it was decided"));
                            }
                            return attempt(id, change, left - 1);
                        }
                        if (result.outcome() == ApprovalRequest.Outcome.APPROVED) {
                            Duration left2 = untilExpiry(result.after());
                            return store.putIfAbsent(grantKey(result.after().binding()), id, left2)
                                    .thenApply(granted -> result);
                        }
                        return CompletableFuture.completedFuture(result);
                    });
        });
    }

    @Override
    public CompletableFuture<Void> close(String binding, String id) {
        return store.get(openKey(binding)).thenCompose(current -> current.isPresent() && current.get().equals(id)
                ? store.replace(openKey(binding), id, "closed:" + id, Duration.ofMillis(1)).thenApply(x -> (Void) null)
                : CompletableFuture.completedFuture(null));
    }

    private Duration untilExpiry(ApprovalRequest request) {
        return Duration.ofMillis(Math.max(1, request.expiresAt() - clock.millis()));
    }

    static String json(ApprovalRequest request) {
        try {
            return JSON.writeValueAsString(request);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write an approval request", e);
        }
    }

    static ApprovalRequest parse(String text) {
        try {
            return JSON.readValue(text, ApprovalRequest.class);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("an approval request in the store cannot be read", e);
        }
    }
}
