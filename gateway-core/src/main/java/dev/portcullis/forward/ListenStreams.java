package dev.portcullis.forward;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.portcullis.authz.SubscriptionFilter;
import dev.portcullis.policy.ItemKind;
import dev.portcullis.policy.Policy;
import dev.portcullis.policy.Subject;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The open 2026-07-28 {@code subscriptions/listen} streams of this process, on routes with a policy
 * (V26-34). When a policy reload changes what a caller may see of a list, every open listen stream of
 * that caller that asked for that list's changes gets {@code notifications/<list>/list_changed}, tagged
 * with the stream's {@code subscriptionId}, so the client lists again instead of trusting a stale copy.
 *
 * <p>Bounded and non-blocking: a stream is registered while it is relayed and removed when it ends; the
 * reload thread only offers events to a small per-stream buffer (a full buffer drops
 * the event, and one pending {@code list_changed} of a kind says all there is to say).
 */
public final class ListenStreams {
    private static final Logger log = LoggerFactory.getLogger(ListenStreams.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int PENDING_EVENTS = 16;
    private static final Map<String, String> NOTIFICATIONS = Map.of(
            "toolsListChanged", "notifications/tools/list_changed",
            "promptsListChanged", "notifications/prompts/list_changed",
            "resourcesListChanged", "notifications/resources/list_changed");

    private final Set<Stream> open = ConcurrentHashMap.newKeySet();

    /** One open listen stream: whose, on which route, which list changes it asked for, and its injected events. */
    final class Stream {
        final String route;
        final Subject subject;
        final Set<String> flags;
        final JsonNode subscriptionId;
        private final java.util.Queue<byte[]> pending = new java.util.concurrent.ConcurrentLinkedQueue<>();
        private final java.util.concurrent.atomic.AtomicInteger size = new java.util.concurrent.atomic.AtomicInteger();
        private volatile Runnable wake;

        private Stream(String route, Subject subject, Set<String> flags, JsonNode subscriptionId) {
            this.route = route;
            this.subject = subject;
            this.flags = Set.copyOf(flags);
            this.subscriptionId = subscriptionId;
        }

        /** {@code wake} runs (on the reload thread) after an event was offered; the relay then {@link #drain}s. */
        void onEvent(Runnable wake) {
            this.wake = wake;
        }

        /** The gateway's events offered so far and not yet taken. */
        java.util.List<byte[]> drain() {
            java.util.List<byte[]> events = new java.util.ArrayList<>();
            byte[] event;
            while ((event = pending.poll()) != null) {
                size.decrementAndGet();
                events.add(event);
            }
            return events;
        }

        /** Forgets the stream. */
        void close() {
            open.remove(this);
            wake = null;
        }

        void offer(byte[] event) {
            if (size.incrementAndGet() > PENDING_EVENTS) {
                size.decrementAndGet();
                log.debug("route {}: list_changed not injected (buffer full)", route);
                return;
            }
            pending.add(event);
            Runnable w = wake;
            if (w != null) {
                w.run();
            }
        }
    }

    /**
     * Registers a listen stream whose filter is {@code filter} (the client's {@code params.notifications});
     * null when it asked for no list changes (then there is nothing to inject).
     */
    Stream register(String route, Subject subject, JsonNode filter, JsonNode subscriptionId) {
        if (filter == null || !filter.isObject()) {
            return null;
        }
        Set<String> flags = new java.util.HashSet<>();
        for (String flag : NOTIFICATIONS.keySet()) {
            if (filter.path(flag).asBoolean(false)) {
                flags.add(flag);
            }
        }
        if (flags.isEmpty()) {
            return null;
        }
        Stream stream = new Stream(route, subject, flags, subscriptionId);
        open.add(stream);
        return stream;
    }

    /** Listen streams open now (for tests and metrics). */
    public int size() {
        return open.size();
    }

    /**
     * A reload replaced {@code before} with {@code after} on {@code route}: every open stream of that route
     * whose caller now sees a list differently, and asked for that list's changes, is told. Runs on the
     * reload thread; never blocks.
     */
    public void policyChanged(String route, Policy before, Policy after) {
        for (Stream stream : open) {
            if (!stream.route.equals(route)) {
                continue;
            }
            for (String flag : stream.flags) {
                ItemKind[] kinds = SubscriptionFilter.LIST_FLAGS.get(flag);
                boolean changed = false;
                for (ItemKind kind : kinds) {
                    changed |= !before.visibility(stream.subject, kind).equals(after.visibility(stream.subject, kind));
                }
                if (changed) {
                    stream.offer(event(NOTIFICATIONS.get(flag), stream.subscriptionId));
                }
            }
        }
    }

    /** {@code event: message} carrying {@code {"jsonrpc":"2.0","method":…,"params":{"_meta":{subscriptionId}}}}. */
    static byte[] event(String method, JsonNode subscriptionId) {
        ObjectNode message = JSON.createObjectNode();
        message.put("jsonrpc", "2.0");
        message.put("method", method);
        message.putObject("params").putObject("_meta").set(Forward.SUBSCRIPTION_ID_KEY, subscriptionId);
        return SseEvents.event(message.toString());
    }
}
