package dev.portcullis.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import reactor.blockhound.BlockHound;

/**
 * BlockHound for a test class that runs in a JVM of its own (a surefire execution per tag): installs it with every
 * integration on the class path, records each blocking call on a non-blocking thread with its stack, and proves
 * first that it really watches (a sleep on a Reactor Netty event loop is reported). BlockHound, once installed,
 * stays for the life of the JVM, so one installation per JVM.
 */
public final class BlockingCalls {
    private final Queue<String> calls = new ConcurrentLinkedQueue<>();

    private BlockingCalls() {}

    public static BlockingCalls install() throws Exception {
        BlockingCalls recorded = new BlockingCalls();
        BlockHound.Builder blockHound = BlockHound.builder();
        java.util.ServiceLoader.load(reactor.blockhound.integration.BlockHoundIntegration.class).forEach(blockHound::with);
        blockHound.blockingMethodCallback(method -> {
            StringBuilder stack = new StringBuilder(Thread.currentThread().getName() + ": " + method);
            for (StackTraceElement frame : new Exception().getStackTrace()) {
                stack.append("\n    at ").append(frame);
            }
            recorded.calls.add(stack.toString());
        }).install();
        reactor.netty.http.HttpResources.get().onServer(true).next().submit(() -> {
            Thread.sleep(1);
            return null;
        }).get(5, TimeUnit.SECONDS);
        assertThat(recorded.calls).as("BlockHound sees event loops").singleElement().asString().contains("java.lang.Thread.sleep");
        recorded.calls.clear();
        return recorded;
    }

    /** The blocking calls seen so far, each with its thread and stack. */
    public List<String> seen() {
        return List.copyOf(calls);
    }
}
