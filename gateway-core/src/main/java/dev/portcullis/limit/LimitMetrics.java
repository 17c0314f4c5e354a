package dev.portcullis.limit;

import dev.portcullis.Caches;
import com.github.benmanes.caffeine.cache.Cache;
import dev.portcullis.policy.Limit;
import dev.portcullis.policy.Limits;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.Locale;

/**
 * Issue 18's metrics (Prometheus names once scraped), labels bounded by the routes and their policy files:
 * <ul>
 *   <li>{@code portcullis_rate_limited_total{route,rule}}: calls a limit refused ({@code rule} is the limit's
 *       id, e.g. {@code tools."write_*"#0});</li>
 *   <li>{@code portcullis_limit_store_fallbacks_total{route,mode}}: limit checks the shared store did not
 *       answer, by the fail mode that applied ({@code local}, {@code closed}).</li>
 * </ul>
 */
final class LimitMetrics {
    private final MeterRegistry registry;
    private final Cache<List<Object>, Counter> counters = Caches.onCallingThread().maximumSize(10_000).build();

    LimitMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    void limited(String route, Limit limit) {
        if (registry == null) {
            return;
        }
        counters.get(List.of("limited", route, limit.id()), key -> Counter.builder("portcullis.rate.limited")
                .description("Calls refused by a rate or concurrency limit, by route and limit")
                .tag("route", route).tag("rule", limit.id()).register(registry)).increment();
    }

    void fallback(String route, Limits.FailMode mode) {
        if (registry == null) {
            return;
        }
        String name = mode.name().toLowerCase(Locale.ROOT);
        counters.get(List.of("fallback", route, name), key -> Counter.builder("portcullis.limit.store.fallbacks")
                .description("Limit checks the shared store did not answer, by the fail mode that applied")
                .tag("route", route).tag("mode", name).register(registry)).increment();
    }
}
