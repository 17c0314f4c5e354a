package dev.portcullis.app;

import dev.portcullis.app.config.ConfigLoader;
import dev.portcullis.app.demo.Demo;
import dev.portcullis.config.GatewayConfig;
import dev.portcullis.config.RouteConfig;
import dev.portcullis.policy.InvalidPolicyException;
import dev.portcullis.policy.LoadedPolicy;
import dev.portcullis.policy.Operation;
import dev.portcullis.policy.PolicyLoader;
import dev.portcullis.policy.Subject;
import dev.portcullis.policy.SubjectClaims;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code portcullis run --config FILE} and {@code portcullis check --config FILE}. */
@Command(name = "portcullis", mixinStandardHelpOptions = true, version = "Portcullis 0.1.0",
        description = "Identity-enforcing reverse proxy for MCP servers.",
        subcommands = {Main.Run.class, Main.Check.class, Main.Explain.class, Main.DemoCommand.class})
public final class Main implements Callable<Integer> {

    public static void main(String[] args) {
        oneEventLoopPerCpu();
        System.exit(new CommandLine(new Main()).execute(args));
    }

    @Override
    public Integer call() {
        new CommandLine(this).usage(System.out);
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

    @Command(name = "run", description = "Start the gateway.")
    static final class Run implements Callable<Integer> {
        @Option(names = {"-c", "--config"}, required = true, description = "gateway.yaml")
        Path config;

        @Override
        public Integer call() {
            GatewayConfig loaded;
            try {
                loaded = ConfigLoader.load(config);
            } catch (ConfigLoader.InvalidConfigException e) {
                System.err.println(e.getMessage());
                return 1;
            }
            Gateway gateway;
            try {
                gateway = Gateway.start(loaded);
            } catch (InvalidPolicyException e) {
                System.err.println(e.getMessage());
                return 1;
            }
            Runtime.getRuntime().addShutdownHook(new Thread(gateway::close, "portcullis-shutdown"));
            gateway.awaitShutdown();
            return 0;
        }
    }

    @Command(name = "check", description = "Validate a configuration file (and its policies), or one policy file; "
            + "exit non-zero with the error.")
    static final class Check implements Callable<Integer> {
        @Option(names = {"-c", "--config"}, description = "gateway.yaml")
        Path config;

        @Option(names = {"-p", "--policy"}, description = "a policy file on its own")
        Path policy;

        @Override
        public Integer call() {
            if ((config == null) == (policy == null)) {
                System.err.println("name exactly one of --config or --policy");
                return 2;
            }
            try {
                if (policy != null) {
                    LoadedPolicy loaded = PolicyLoader.load(policy);
                    System.out.println(policy + ": OK (" + loaded.policy().rules().size() + " rule(s))");
                    loaded.warnings().forEach(w -> System.out.println("warning: " + w));
                    return 0;
                }
                GatewayConfig loaded = ConfigLoader.load(config);
                System.out.println(config + ": OK (" + loaded.issuers().size() + " issuer(s), "
                        + loaded.routes().size() + " route(s))");
                for (RouteConfig route : loaded.routes()) {
                    if (route.policy() != null) {
                        LoadedPolicy policy = PolicyLoader.load(route.policy());
                        System.out.println(route.policy() + ": OK (" + policy.policy().rules().size() + " rule(s))");
                        policy.warnings().forEach(w -> System.out.println("warning: " + w));
                    }
                }
                return 0;
            } catch (ConfigLoader.InvalidConfigException | InvalidPolicyException e) {
                System.err.println(e.getMessage());
                return 1;
            }
        }
    }

    @Command(name = "explain", description = "Print how a policy decides one call, without a server.")
    static final class Explain implements Callable<Integer> {
        @Option(names = "--policy", required = true, description = "policy file")
        Path policy;

        @Option(names = "--claims", required = true, description = "JSON file with the token's claims (sub, client_id, scope, roles)")
        Path claims;

        @Option(names = "--tool", description = "tool name (tools/call)")
        String tool;

        @Option(names = "--resource", description = "resource URI (resources/read)")
        String resource;

        @Option(names = "--prompt", description = "prompt name (prompts/get)")
        String prompt;

        @Option(names = "--method", description = "any other JSON-RPC method")
        String method;

        @Option(names = "--arguments", description = "tool or prompt arguments as JSON", defaultValue = "{}")
        String arguments;

        @Override
        public Integer call() throws Exception {
            try {
                LoadedPolicy loaded = PolicyLoader.load(policy);
                Subject subject = SubjectClaims.fromJson(java.nio.file.Files.readString(claims));
                var args = new com.fasterxml.jackson.databind.ObjectMapper().readTree(arguments);
                Operation operation;
                if (tool != null) {
                    operation = Operation.toolCall(tool, args);
                } else if (resource != null) {
                    operation = Operation.resourceRead(resource);
                } else if (prompt != null) {
                    operation = Operation.promptGet(prompt, args);
                } else if (method != null) {
                    operation = Operation.method(method);
                } else {
                    System.err.println("name one of --tool, --resource, --prompt or --method");
                    return 2;
                }
                System.out.println(dev.portcullis.policy.Explain.explain(loaded, subject, operation));
                return 0;
            } catch (InvalidPolicyException e) {
                System.err.println(e.getMessage());
                return 1;
            }
        }
    }

    @Command(name = "demo", description = "Start the gateway with a development-only token issuer and a sample MCP "
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
}
