package dev.portcullis.http;

import io.netty.resolver.AddressResolver;
import io.netty.resolver.AddressResolverGroup;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * The resolver of the outbound client: every address it hands to the connector has passed
 * {@link OutboundAddressPolicy}, so the address that is checked is the address that is connected
 * to (no second lookup between check and connect: SECURITY-03 "pin the resolved IP").
 *
 * <p>Reactor Netty passes IP literals to the connector as already resolved and normally skips the
 * resolver for them; this resolver reports every address as unresolved, so literals are checked
 * here too. Names are resolved by the wrapped resolver (non-blocking DNS by default); the addresses
 * the policy refuses are dropped, and when none is left the connection fails with
 * {@link AddressRefused} before any connection attempt.
 */
public final class GuardedAddressResolverGroup extends AddressResolverGroup<InetSocketAddress> {
    private final AddressResolverGroup<InetSocketAddress> names;
    private final OutboundAddressPolicy policy;

    public GuardedAddressResolverGroup(AddressResolverGroup<InetSocketAddress> names, OutboundAddressPolicy policy) {
        this.names = names;
        this.policy = policy;
    }

    /** A connection the policy does not allow; carries the host and the refused address(es), never a body. */
    public static final class AddressRefused extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public AddressRefused(String message) {
            super(message, null, false, false);
        }
    }

    @Override
    protected AddressResolver<InetSocketAddress> newResolver(EventExecutor executor) {
        return new Guarded(executor, names.getResolver(executor));
    }

    private final class Guarded implements AddressResolver<InetSocketAddress> {
        private final EventExecutor executor;
        private final AddressResolver<InetSocketAddress> names;

        Guarded(EventExecutor executor, AddressResolver<InetSocketAddress> names) {
            this.executor = executor;
            this.names = names;
        }

        @Override
        public boolean isSupported(SocketAddress address) {
            return address instanceof InetSocketAddress;
        }

        @Override
        public boolean isResolved(SocketAddress address) {
            return false; // literals too must go through resolveAll, where they are checked
        }

        @Override
        public Future<InetSocketAddress> resolve(SocketAddress address) {
            return resolve(address, executor.newPromise());
        }

        @Override
        public Future<InetSocketAddress> resolve(SocketAddress address, Promise<InetSocketAddress> promise) {
            resolveAll(address).addListener((Future<List<InetSocketAddress>> all) -> {
                if (all.isSuccess()) {
                    promise.trySuccess(all.getNow().get(0));
                } else {
                    promise.tryFailure(all.cause());
                }
            });
            return promise;
        }

        @Override
        public Future<List<InetSocketAddress>> resolveAll(SocketAddress address) {
            return resolveAll(address, executor.newPromise());
        }

        @Override
        public Future<List<InetSocketAddress>> resolveAll(SocketAddress address, Promise<List<InetSocketAddress>> promise) {
            InetSocketAddress target = (InetSocketAddress) address;
            if (!target.isUnresolved()) {
                // An IP literal in the URL (Reactor Netty resolves only those itself).
                String refusal = policy.refusal(target.getAddress(), true);
                if (refusal == null) {
                    promise.trySuccess(List.of(target));
                } else {
                    promise.tryFailure(new AddressRefused("outbound connection to " + describe(target) + " refused: " + refusal));
                }
                return promise;
            }
            names.resolveAll(target).addListener((Future<List<InetSocketAddress>> resolved) -> {
                if (!resolved.isSuccess()) {
                    promise.tryFailure(resolved.cause());
                    return;
                }
                List<InetSocketAddress> allowed = new ArrayList<>();
                List<String> refusals = new ArrayList<>();
                for (InetSocketAddress candidate : resolved.getNow()) {
                    String refusal = candidate.isUnresolved() ? "not resolved" : policy.refusal(candidate.getAddress(), false);
                    if (refusal == null) {
                        allowed.add(candidate);
                    } else {
                        refusals.add(refusal);
                    }
                }
                if (allowed.isEmpty()) {
                    promise.tryFailure(new AddressRefused("outbound connection to " + target.getHostString() + ":"
                            + target.getPort() + " refused: " + String.join("; ", refusals)));
                } else {
                    promise.trySuccess(List.copyOf(allowed));
                }
            });
            return promise;
        }

        @Override
        public void close() {
            // The wrapped resolvers belong to their own group.
        }
    }

    private static String describe(InetSocketAddress address) {
        String host = NetUtil.toAddressString(address.getAddress());
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + address.getPort();
    }
}
