package dev.portcullis.app;

import dev.portcullis.app.config.ConfigLoader;
import dev.portcullis.config.GatewayConfig;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code portcullis run --config FILE} and {@code portcullis check --config FILE}. */
@Command(name = "portcullis", mixinStandardHelpOptions = true, version = "Portcullis 0.1.0",
        description = "Identity-enforcing reverse proxy for MCP servers.",
        subcommands = {Main.Run.class, Main.Check.class})
public final class Main implements Callable<Integer> {

    public static void main(String[] args) {
        System.exit(new CommandLine(new Main()).execute(args));
    }

    @Override
    public Integer call() {
        new CommandLine(this).usage(System.out);
        return 2;
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
            Gateway gateway = Gateway.start(loaded);
            Runtime.getRuntime().addShutdownHook(new Thread(gateway::close, "portcullis-shutdown"));
            gateway.awaitShutdown();
            return 0;
        }
    }

    @Command(name = "check", description = "Validate a configuration file and exit (non-zero with the error).")
    static final class Check implements Callable<Integer> {
        @Option(names = {"-c", "--config"}, required = true, description = "gateway.yaml")
        Path config;

        @Override
        public Integer call() {
            try {
                GatewayConfig loaded = ConfigLoader.load(config);
                System.out.println(config + ": OK (" + loaded.issuers().size() + " issuer(s), "
                        + loaded.routes().size() + " route(s))");
                return 0;
            } catch (ConfigLoader.InvalidConfigException e) {
                System.err.println(e.getMessage());
                return 1;
            }
        }
    }
}
