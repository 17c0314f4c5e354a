package dev.portcullis.app;

import dev.portcullis.app.config.ConfigLoader;
import dev.portcullis.config.GatewayConfig;
import dev.portcullis.config.RouteConfig;
import dev.portcullis.config.UpstreamAuthConfig;
import dev.portcullis.exchange.ClientCredentialsCredentials;
import dev.portcullis.exchange.UpstreamCredentials;
import dev.portcullis.pin.InvalidPinsException;
import dev.portcullis.pin.Pin;
import dev.portcullis.pin.PinDiff;
import dev.portcullis.pin.PinFile;
import dev.portcullis.pin.PinKind;
import dev.portcullis.pin.PinSet;
import dev.portcullis.route.Route;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Issue 17: {@code portcullis pin} (record what a route's upstream lists now, for review) and
 * {@code check --against-upstream} (report pins that no longer match). Both reach the upstream as the gateway does:
 * the route and its upstream credentials are built by {@link Gateway.Assembly} from the same config; the upstream
 * receives no credential ({@code upstream-auth: none}), the gateway's own client-credentials token
 * ({@code client-credentials}), or, for routes that exchange a caller's token, a token the operator provides in an
 * environment variable ({@code --upstream-token-env}; a token on the command line would show in {@code ps}).
 */
final class PinCommand {
    private PinCommand() {}

    /** What the operator must fix in the command line or the environment: exit 2. */
    static final class UsageError extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UsageError(String message) {
            super(message, null, false, false);
        }
    }

    /** {@code portcullis pin}: writes the pins file; returns its path. */
    static Path pin(Path configFile, String routeName, Path out, String tokenEnv, Function<String, String> env,
                    PrintWriter print) {
        GatewayConfig config = ConfigLoader.load(configFile);
        try (Gateway.Assembly built = Gateway.Assembly.withoutPins(config, configFile.toString())) {
            Route route = route(built, routeName);
            List<PinKind> kinds = kinds(route.config());
            Map<PinKind, Map<String, Pin>> live = live(built, route, kinds, tokenEnv, env);
            Path target = out != null ? out : defaultFile(configFile, route.config());
            PinSet previous = null;
            if (Files.exists(target)) {
                try {
                    previous = PinFile.read(target);
                } catch (InvalidPinsException unreadable) {
                    print.println(target + ": the file there is not a valid pins file; it is replaced");
                }
            }
            PinSet pins = new PinSet(route.name(), route.config().upstream(), live);
            write(target, PinFile.write(pins));
            String counts = kinds.stream().map(k -> live.get(k).size() + " " + k.text()).reduce((a, b) -> a + ", " + b)
                    .orElse("nothing");
            print.println(target + ": pinned " + counts + " of route " + route.name() + " (" + route.config().upstream() + ")");
            if (previous != null) {
                PinDiff diff = PinDiff.of(previous, live, kinds);
                if (diff.isEmpty()) {
                    print.println("unchanged since the last pin");
                } else {
                    print.println("changed since the last pin (review these in the diff before deploying):");
                    diff.changes().forEach(change -> print.println("  " + change.describe()));
                }
            }
            if (route.config().pinning() == null) {
                print.println("route " + route.name() + " has no pinning yet: add  pinning: { file: " + target.getFileName()
                        + " }  to it (docs/pinning.md)");
            }
            return target;
        }
    }

    /**
     * {@code check --against-upstream}: for each route that pins definitions, what its upstream lists now against its
     * pins; one line per difference. Returns whether any route's pins no longer match.
     */
    static boolean againstUpstream(Gateway.Assembly built, String tokenEnv, Function<String, String> env, PrintWriter print) {
        boolean drift = false;
        for (Route route : built.routes) {
            if (route.pins() == null) {
                continue;
            }
            List<PinKind> kinds = kinds(route.config());
            PinDiff diff = PinDiff.of(route.pins().pins(), live(built, route, kinds, tokenEnv, env), kinds);
            if (diff.isEmpty()) {
                print.println(route.config().pinning().file() + ": matches the upstream of route " + route.name());
                continue;
            }
            drift = true;
            print.println(route.config().pinning().file() + ": does not match the upstream of route " + route.name()
                    + " (re-pin with portcullis pin, review, deploy):");
            diff.changes().forEach(change -> print.println("  " + change.describe()));
        }
        return drift;
    }

    private static Route route(Gateway.Assembly built, String name) {
        if (name == null) {
            if (built.routes.size() == 1) {
                return built.routes.get(0);
            }
            throw new UsageError("name the route with --route (the config has " + built.routes.size() + ": "
                    + String.join(", ", built.routes.stream().map(Route::name).toList()) + ")");
        }
        return built.routes.stream().filter(r -> r.name().equals(name)).findFirst().orElseThrow(() -> new UsageError(
                "no route named \"" + name + "\" (the config has: " + String.join(", ", built.routes.stream().map(Route::name)
                        .toList()) + ")"));
    }

    /** The kinds the route pins, or tools alone for a route not configured yet. */
    static List<PinKind> kinds(RouteConfig route) {
        return route.pinning() == null ? List.of(PinKind.TOOLS) : route.pinning().kinds().stream().map(PinKind::of).toList();
    }

    /** The route's pinning file; else pins.yaml beside the route's policy; else beside the config. */
    static Path defaultFile(Path configFile, RouteConfig route) {
        if (route.pinning() != null) {
            return route.pinning().file();
        }
        Path beside = route.policy() != null ? route.policy() : configFile.toAbsolutePath();
        return beside.toAbsolutePath().getParent().resolve("pins.yaml");
    }

    private static Map<PinKind, Map<String, Pin>> live(Gateway.Assembly built, Route route, List<PinKind> kinds,
                                                        String tokenEnv, Function<String, String> env) {
        if (route.config().legacySse()) {
            throw new UsageError("route " + route.name() + ": transport sse (2024-11-05 HTTP+SSE) upstreams cannot be read "
                    + "by pin yet (docs/pinning.md)");
        }
        Optional<String> bearer = bearer(built, route, tokenEnv, env);
        return UpstreamLists.list(route.upstream(), bearer, route.config().connectTimeout(),
                route.config().responseTimeout(), kinds);
    }

    private static Optional<String> bearer(Gateway.Assembly built, Route route, String tokenEnv, Function<String, String> env) {
        if (tokenEnv != null) {
            String token = env.apply(tokenEnv);
            if (token == null || token.isBlank()) {
                throw new UsageError("--upstream-token-env " + tokenEnv + ": the variable is not set");
            }
            return Optional.of(token.strip());
        }
        UpstreamAuthConfig auth = route.config().upstreamAuth();
        switch (auth.parsedType()) {
            case NONE:
                return Optional.empty();
            case CLIENT_CREDENTIALS:
                UpstreamCredentials credentials = built.credentials.get(route.name());
                if (credentials instanceof ClientCredentialsCredentials own) {
                    try {
                        return Optional.ofNullable(own.configuredToken().block(auth.timeout().plus(Duration.ofSeconds(1))));
                    } catch (RuntimeException e) {
                        throw new UpstreamLists.Unreachable("route " + route.name() + ": the gateway's client-credentials "
                                + "token could not be had (" + Main.oneLine(e) + ")");
                    }
                }
                throw new IllegalStateException("client-credentials route without its credentials");
            default:
                throw new UsageError("route " + route.name() + ": upstream-auth " + auth.type() + " exchanges a caller's "
                        + "token, and pin has no caller: put a token the upstream accepts in an environment variable and "
                        + "name it with --upstream-token-env (docs/pinning.md)");
        }
    }

    /** Written beside the target and moved over it: a reader (the gateway's reload) never sees half a file. */
    private static void write(Path target, String text) {
        try {
            Path dir = target.toAbsolutePath().getParent();
            Files.createDirectories(dir);
            Path temp = Files.createTempFile(dir, ".pins-", ".yaml");
            Files.writeString(temp, text, StandardCharsets.UTF_8);
            try {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException atomicNotSupported) {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new UpstreamLists.Unreachable(target + ": cannot be written (" + e.getClass().getSimpleName() + ")");
        }
    }
}
