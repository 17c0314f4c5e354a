package dev.portcullis.app;

import io.micrometer.core.instrument.Clock;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.netty4.NettyAllocatorMetrics;
import io.micrometer.core.instrument.binder.netty4.NettyEventExecutorMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.channel.EventLoopGroup;
import io.opentelemetry.api.trace.Span;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.tracer.common.SpanContext;

/**
 * The process-wide metrics beside the request path's (issue 15): JVM (memory, GC, threads, class loading),
 * process (CPU, uptime, file descriptors), Netty (allocator, event loops) and {@code portcullis_build_info}.
 * With tracing on, histogram buckets and counters carry exemplars: the trace and span of a request they
 * counted (exposed in the OpenMetrics format).
 */
final class GatewayMetrics implements AutoCloseable {
    private final JvmGcMetrics gc = new JvmGcMetrics();

    private GatewayMetrics() {}

    /** The registry; exemplars from the current span when {@code exemplars} is true. */
    static PrometheusMeterRegistry registry(boolean exemplars) {
        return exemplars
                ? new PrometheusMeterRegistry(PrometheusConfig.DEFAULT, new PrometheusRegistry(), Clock.SYSTEM, new TraceExemplars())
                : new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    }

    /** Binds the JVM, process and allocator meters and the build info. */
    static GatewayMetrics bind(MeterRegistry registry) {
        GatewayMetrics metrics = new GatewayMetrics();
        new JvmMemoryMetrics().bindTo(registry);
        metrics.gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        if (ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider allocator) {
            new NettyAllocatorMetrics(allocator).bindTo(registry);
        }
        Gauge.builder("portcullis.build.info", () -> 1)
                .description("The running Portcullis version (value 1)")
                .tag("version", version())
                .strongReference(true)
                .register(registry);
        return metrics;
    }

    /** The listener's event loops: pending tasks per loop. */
    static void bindEventLoops(MeterRegistry registry, EventLoopGroup workers) {
        new NettyEventExecutorMetrics(workers).bindTo(registry);
    }

    /** The version in the jar's manifest ({@code Implementation-Version}), or {@code dev} when run from classes. */
    static String version() {
        String version = Gateway.class.getPackage().getImplementationVersion();
        return version == null || version.isBlank() ? "dev" : version;
    }

    @Override
    public void close() {
        gc.close();
    }

    /** The current OpenTelemetry span as exemplar source: the request path makes the request's span current while it records. */
    static final class TraceExemplars implements SpanContext {
        @Override
        public String getCurrentTraceId() {
            var context = Span.current().getSpanContext();
            return context.isValid() ? context.getTraceId() : null;
        }

        @Override
        public String getCurrentSpanId() {
            var context = Span.current().getSpanContext();
            return context.isValid() ? context.getSpanId() : null;
        }

        @Override
        public boolean isCurrentSpanSampled() {
            return Span.current().getSpanContext().isSampled();
        }

        @Override
        public void markCurrentSpanAsExemplar() {
            // The span is already sampled and exported; nothing to mark.
        }
    }
}
