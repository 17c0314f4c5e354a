package dev.portcullis.bench.jmh;

import java.util.function.Supplier;

/**
 * {@link IntrospectionBenchmark}'s comparison by the measuring thread's own CPU time per operation (a shared machine
 * inflates JMH's wall time), in turns after a warm-up: the authenticate stage for a cached JWT, for an opaque token
 * whose introspection answer is cached (a random one and a JWE), and for a JWT of an issuer with {@code introspection.tokens: all} (local
 * verification and introspection answer both cached). Fails if the fake introspection endpoint was called after the
 * setup (the figures would be misses).
 *
 * <pre>java -cp bench/jmh/target/benchmarks.jar dev.portcullis.bench.jmh.IntrospectionCpuTime [seconds per turn] [turns]</pre>
 */
public final class IntrospectionCpuTime {
    private IntrospectionCpuTime() {}

    public static void main(String[] args) throws Exception {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 1.0;
        int turns = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        dev.portcullis.authn.SignatureProvider.get(); // the provider choice, made before measuring
        IntrospectionBenchmark bench = new IntrospectionBenchmark();
        bench.setUp();
        String[] names = {"bearerCachedToken", "opaqueCachedAnswer", "opaqueJweCachedAnswer", "jwtIntrospectedCached"};
        @SuppressWarnings("unchecked")
        Supplier<Object>[] ops = new Supplier[] {bench::bearerCachedToken, bench::opaqueCachedAnswer, bench::opaqueJweCachedAnswer,
            bench::jwtIntrospectedCached};
        ThreadCpu.Totals totals = ThreadCpu.turns(ops, seconds, turns, bench::checkNoMisses);
        double base = totals.cpuMicrosPerOp(0);
        System.out.println("operation                  ops  cpu_us_per_op  x_bearer  (introspection calls after setup: "
                + bench.callsAfterSetup() + ")");
        for (int i = 0; i < ops.length; i++) {
            double perOp = totals.cpuMicrosPerOp(i);
            System.out.printf("%-22s %10d %10.3f %9.2f%n", names[i], totals.count()[i], perOp, perOp / base);
        }
        bench.tearDown();
    }
}
