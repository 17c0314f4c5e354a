package dev.portcullis.bench;

import java.util.Arrays;

/**
 * The Java side of {@code bench/run.sh}: small tools the orchestrator (bench/harness/bench.py)
 * calls as processes. Each prints one JSON object on stdout (or writes files) and exits.
 *
 * <pre>
 *   java -jar portcullis-bench.jar mint      --out DIR --issuer ISS --audience AUD --tokens N
 *   java -jar portcullis-bench.jar open-loop --url URL --rate R --duration S --body FILE --tokens FILE ...
 *   java -jar portcullis-bench.jar sse-hold  --url URL --streams N --hold S --tokens FILE
 *   java -jar portcullis-bench.jar netty-proxy --port P --upstream-port U
 * </pre>
 */
public final class BenchTool {
    private BenchTool() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.err.println("usage: portcullis-bench (mint | open-loop | sse-hold | netty-proxy) --option value ...");
            System.exit(2);
        }
        Options options = Options.parse(Arrays.copyOfRange(args, 1, args.length));
        switch (args[0]) {
            case "mint" -> MintTokens.run(options);
            case "open-loop" -> OpenLoopClient.run(options);
            case "sse-hold" -> IdleSseClient.run(options);
            case "netty-proxy" -> NettyProxy.run(options);
            default -> {
                System.err.println("unknown tool: " + args[0]);
                System.exit(2);
            }
        }
    }
}
