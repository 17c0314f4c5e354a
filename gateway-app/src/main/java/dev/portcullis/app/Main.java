package dev.portcullis.app;

import dev.portcullis.app.config.ConfigLoader;
import dev.portcullis.app.demo.Demo;
import dev.portcullis.config.GatewayConfig;
import dev.portcullis.policy.InvalidPolicyException;
import dev.portcullis.policy.LoadedPolicy;
import dev.portcullis.policy.PolicyLoader;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code portcullis run|check|explain|pin|demo}. Every subcommand takes {@code --help}. An error the
 * operator can fix (a bad config, an unreadable file, malformed JSON, a port in use) is one line on
 * stderr and a non-zero exit, never a stack trace.
 */
@Command(name = "portcullis", mixinStandardHelpOptions = true, version = "Portcullis 0.1.0",
        description = "Identity-enforcing reverse proxy for MCP servers.",
        subcommands = {Main.Run.class, Main.Check.class, Main.Explain.class, Main.PinCmd.class, Main.DemoCommand.class})
public final class Main implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(Main.class);

    @Spec
    CommandSpec spec;

    public static void main(String[] args) {
        oneEventLoopPerCpu();
        noLeakSampling();
        System.exit(commandLine().execute(args));
    }

    /** The command line with its handlers: what {@link #main} runs, and what tests run in-process. */
    static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            // Anything not handled where it happened: still one line, never a stack trace.
            commandLine.getErr().println(commandLine.getCommandName() + ": " + oneLine(e));
            commandLine.getErr().flush();
            return 1;
        });
        return cli;
    }

    /** Issue 18: a policy's limits, one line each, as {@code check} shows them. */
    static void printLimits(java.io.PrintWriter out, dev.portcullis.policy.Limits limits) {
        for (dev.portcullis.policy.Limit limit : limits.all()) {
            out.println("  limit " + limit.id() + ": " + limit.describe());
        }
        if (!limits.isEmpty()) {
            out.println("  limits fail mode: " + limits.fail().name().toLowerCase(java.util.Locale.ROOT));
        }
    }

    static String oneLine(Throwable e) {
        String message = e.getMessage();
        String text = e.getClass().getSimpleName() + (message == null ? "" : ": " + message);
        return text.replaceAll("[\\r\\n]+", " ");
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 2;
    }

    /**
     * Reactor Netty runs max(CPUs, 4) event loops by default. A proxy that never blocks gains nothing
     * from more loops than CPUs and loses to their context switches: on a one-CPU pod, four loops cost
     * three times the CPU per request of one (bench/README.md). The CPU count is the container's limit,
     * as the JVM sees it. {@code -Dreactor.netty.ioWorkerCount=N} still overrides. Must run before any
     * Reactor Netty class reads the property.
     */
    static void oneEventLoopPerCpu() {
        if (System.getProperty("reactor.netty.ioWorkerCount") == null) {
            System.setProperty("reactor.netty.ioWorkerCount", Integer.toString(Runtime.getRuntime().availableProcessors()));
        }
    }

    /**
     * Netty samples one buffer in 128 for leak tracking by default, recording a stack trace for each sampled
     * buffer (~0.5% of the CPU per proxied request in the issue-13 profile). The tests start the gateway in-process,
     * not through {@link #main}, so they keep Netty's sampling (a leak is logged as {@code LEAK:}); a running
     * gateway does not pay for it. {@code -Dio.netty.leakDetection.level=simple} (or
     * {@code paranoid}) still turns it on. Must run before any Netty buffer class reads the property.
     */
    static void noLeakSampling() {
        if (System.getProperty("io.netty.leakDetection.level") == null && System.getProperty("io.netty.leakDetectionLevel") == null) {
            System.setProperty("io.netty.leakDetection.level", "disabled");
        }
    }

    /**
     * Issue 14: SIGHUP re-reads the config file and swaps in what may change live (routes, issuers,
     * upstream-auth, policies, TLS certificate and key), or keeps the config in force and says why. Its
     * default action would end the JVM.
     */
    static void ignoreHangup() {
        try {
            sun.misc.Signal.handle(new sun.misc.Signal("HUP"), signal -> log.info(
                    "SIGHUP received and ignored: the demo has no configuration file to reload"));
        } catch (IllegalArgumentException | UnsupportedOperationException notOnThisPlatform) {
            log.debug("SIGHUP cannot be handled on this platform: {}", notOnThisPlatform.toString());
        }
    }

    static void reloadOnHangup(Gateway gateway) {
        try {
            sun.misc.Signal.handle(new sun.misc.Signal("HUP"), signal -> {
                log.info("SIGHUP received: reloading the configuration");
                gateway.reload("SIGHUP");
            });
        } catch (IllegalArgumentException | UnsupportedOperationException notOnThisPlatform) {
            log.debug("SIGHUP cannot be handled on this platform: {}", notOnThisPlatform.toString());
        }
    }

    @Command(name = "run", mixinStandardHelpOptions = true, description = "Start the gateway.")
    static final class Run implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = {"-c", "--config"}, required = true, description = "gateway.yaml")
        Path config;

        @Override
        public Integer call() {
            PrintWriter err = spec.commandLine().getErr();
            Gateway gateway;
            try {
                GatewayConfig loaded = ConfigLoader.load(config);
                gateway = Gateway.start(loaded, config);
                reloadOnHangup(gateway);
            } catch (ConfigLoader.InvalidConfigException | InvalidPolicyException | Gateway.BindException e) {
                err.println(e.getMessage());
                err.flush();
                return 1;
            }
            Gateway running = gateway;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                running.close();
                stopLogging();
            }, "portcullis-shutdown"));
            gateway.awaitShutdown();
            return 0;
        }
    }

    @Command(name = "check", mixinStandardHelpOptions = true,
            description = "Validate a configuration file, its policies and everything run builds from them (short of "
                    + "binding ports and fetching keys), or one policy file. Every problem is reported, one per line; "
                    + "the exit status is non-zero when there is any.")
    static final class Check implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = {"-c", "--config"}, description = "gateway.yaml")
        Path config;

        @Option(names = {"-p", "--policy"}, description = "a policy file on its own")
        Path policy;

        @Option(names = "--against-upstream", description = "also list each pinning route's upstream now and report "
                + "pins that no longer match it (issue 17); non-zero exit on any difference")
        boolean againstUpstream;

        @Option(names = "--upstream-token-env", paramLabel = "NAME", description = "with --against-upstream: the "
                + "environment variable holding a token the upstreams accept (routes that exchange a caller's token)")
        String upstreamTokenEnv;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            try {
                if ((config == null) == (policy == null)) {
                    err.println("check: name exactly one of --config or --policy");
                    return 2;
                }
                if (policy != null) {
                    try {
                        LoadedPolicy loaded = PolicyLoader.load(policy);
                        out.println(policy + ": OK (" + loaded.policy().rules().size() + " rule(s))");
                        printLimits(out, loaded.policy().limits());
                        loaded.warnings().forEach(w -> out.println("warning: " + w));
                        return 0;
                    } catch (InvalidPolicyException e) {
                        e.problems().forEach(err::println);
                        return 1;
                    }
                }
                GatewayConfig loaded;
                try {
                    loaded = ConfigLoader.load(config);
                } catch (ConfigLoader.InvalidConfigException e) {
                    e.problems().forEach(err::println);
                    // The policies of the routes that were valid are checked too: every problem in one run.
                    for (Path file : e.policies()) {
                        try {
                            PolicyLoader.load(file);
                        } catch (InvalidPolicyException bad) {
                            bad.problems().forEach(err::println);
                        }
                    }
                    return 1;
                }
                // Build what run builds: routes, policies, verifiers, credentials, sessions, Host/Origin rules.
                try (Gateway.Assembly built = Gateway.Assembly.build(loaded, config.toString())) {
                    out.println(config + ": OK (" + loaded.issuers().size() + " issuer(s), "
                            + loaded.routes().size() + " route(s))");
                    for (var route : built.routes) {
                        if (route.policy() instanceof dev.portcullis.authz.PolicySource source) {
                            LoadedPolicy policy = source.loaded();
                            out.println(route.config().policy() + ": OK (" + policy.policy().rules().size() + " rule(s))");
                            printLimits(out, policy.policy().limits());
                            policy.warnings().forEach(w -> out.println("warning: " + w));
                        }
                        if (route.pins() != null) {
                            out.println(route.config().pinning().file() + ": OK (" + PinCommand.kinds(route.config()).stream()
                                    .map(k -> route.pins().pins().of(k).size() + " " + k.text())
                                    .collect(java.util.stream.Collectors.joining(", ")) + " pinned)");
                        }
                    }
                    if (againstUpstream) {
                        try {
                            return PinCommand.againstUpstream(built, upstreamTokenEnv, System::getenv, out) ? 1 : 0;
                        } catch (UpstreamLists.Unreachable | PinCommand.UsageError e) {
                            err.println("check: " + e.getMessage());
                            return 1;
                        }
                    }
                    return 0;
                } catch (ConfigLoader.InvalidConfigException e) {
                    e.problems().forEach(err::println);
                    return 1;
                }
            } finally {
                out.flush();
                err.flush();
            }
        }
    }

    @Command(name = "explain", mixinStandardHelpOptions = true,
            description = "Print how the gateway decides one call, without a server. With --config (and --route when "
                    + "there are several), the decision is made as run makes it: the route's policy, the claims mapped "
                    + "with the issuer's preset. With --policy alone, the claims use the generic names (client_id, "
                    + "scope, roles).")
    static final class Explain implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = {"-c", "--config"}, description = "gateway.yaml: decide as run decides")
        Path config;

        @Option(names = "--route", description = "route name (needed when the config has more than one)")
        String route;

        @Option(names = "--policy", description = "a policy file on its own (generic claim names)")
        Path policy;

        @Option(names = "--claims", required = true,
                description = "JSON file with the token's claims (the decoded payload: iss, sub, aud, scope, roles...)")
        Path claims;

        @Option(names = "--tool", description = "tool name (tools/call)")
        String tool;

        @Option(names = "--resource", description = "resource URI (resources/read)")
        String resource;

        @Option(names = "--prompt", description = "prompt name (prompts/get)")
        String prompt;

        @Option(names = "--method", description = "any other JSON-RPC method")
        String method;

        @Option(names = "--arguments", description = "tool or prompt arguments as a JSON object", defaultValue = "{}")
        String arguments;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            try {
                out.print(ExplainCommand.run(config, route, policy, claims, tool, resource, prompt, method, arguments));
                return 0;
            } catch (ExplainCommand.UsageError e) {
                err.println("explain: " + e.getMessage());
                return 2;
            } catch (ConfigLoader.InvalidConfigException e) {
                e.problems().forEach(err::println);
                return 1;
            } catch (InvalidPolicyException e) {
                e.problems().forEach(err::println);
                return 1;
            } finally {
                out.flush();
                err.flush();
            }
        }
    }

    @Command(name = "pin", mixinStandardHelpOptions = true,
            description = "Record the tool (and, where the route pins them, prompt and resource template) definitions a "
                    + "route's upstream lists now into a pins file for review in git (issue 17, docs/pinning.md). The "
                    + "upstream is reached as the gateway reaches it: no credential, the gateway's client-credentials "
                    + "token, or the token in --upstream-token-env.")
    static final class PinCmd implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = {"-c", "--config"}, required = true, description = "gateway.yaml")
        Path config;

        @Option(names = "--route", description = "route name (needed when the config has more than one)")
        String route;

        @Option(names = "--out", description = "the pins file to write (default: the route's pinning.file, else "
                + "pins.yaml beside the route's policy, else beside the config)")
        Path out;

        @Option(names = "--upstream-token-env", paramLabel = "NAME", description = "the environment variable holding a "
                + "token the upstream accepts (needed for routes that exchange a caller's token; never printed)")
        String upstreamTokenEnv;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            try {
                PinCommand.pin(config, route, this.out, upstreamTokenEnv, System::getenv, out);
                return 0;
            } catch (PinCommand.UsageError e) {
                err.println("pin: " + e.getMessage());
                return 2;
            } catch (ConfigLoader.InvalidConfigException e) {
                e.problems().forEach(err::println);
                return 1;
            } catch (UpstreamLists.Unreachable e) {
                err.println("pin: " + e.getMessage());
                return 1;
            } finally {
                out.flush();
                err.flush();
            }
        }
    }

    @Command(name = "demo", mixinStandardHelpOptions = true, description = "Start the gateway with a development-only token issuer and a sample MCP "
            + "server on 127.0.0.1, and print what to try.")
    static final class DemoCommand implements Callable<Integer> {
        @Option(names = "--port", defaultValue = "8080", description = "the gateway's port (default 8080; 0 picks one)")
        int port;

        @Option(names = "--exercise", hidden = true, description = "run the guide's steps once, check the answers and "
                + "exit (the container build trains its class-data sharing archive with it)")
        boolean exercise;

        @Override
        public Integer call() throws Exception {
            if (exercise) {
                try (Demo demo = Demo.start(port)) {
                    demo.exercise();
                }
                System.out.println("demo exercise passed");
                return 0;
            }
            Demo demo = Demo.start(port);
            ignoreHangup();
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    demo.close();
                } catch (Exception e) {
                    System.err.println("stopping the demo: " + e);
                }
            }, "portcullis-demo-shutdown"));
            demo.printGuide(System.out);
            demo.awaitShutdown();
            return 0;
        }
    }

    /**
     * After the drain: the log and audit writers (ring buffers, written a batch at a time) write what they still
     * hold, so the audit events of the last calls and the last log lines are not lost when the JVM exits.
     */
    static void stopLogging() {
        if (org.slf4j.LoggerFactory.getILoggerFactory() instanceof ch.qos.logback.classic.LoggerContext logback) {
            logback.stop();
        }
    }
}
