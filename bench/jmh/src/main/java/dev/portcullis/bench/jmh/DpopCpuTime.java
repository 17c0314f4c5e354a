package dev.portcullis.bench.jmh;

import java.util.function.Supplier;

/**
 * {@link DpopBenchmark}'s comparison by the measuring thread's own CPU time per operation (a shared machine inflates
 * JMH's wall time), in turns after a warm-up: the authenticate stage for a cached bearer token, for a cached DPoP-bound
 * token with its proof, and the proof's ES256 signature check alone (the provider the gateway chooses).
 *
 * <pre>java -cp bench/jmh/target/benchmarks.jar dev.portcullis.bench.jmh.DpopCpuTime [seconds per turn] [turns]</pre>
 */
public final class DpopCpuTime {
    private DpopCpuTime() {}

    public static void main(String[] args) throws Exception {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 1.0;
        int turns = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        dev.portcullis.authn.SignatureProvider.get(); // the provider choice, made before measuring
        DpopBenchmark bench = new DpopBenchmark();
        bench.setUp();
        String[] names = {"bearerCachedToken", "dpopCachedToken", "es256ProofSignature"};
        java.security.Provider provider = dev.portcullis.authn.SignatureProvider.get().providerFor(com.nimbusds.jose.JWSAlgorithm.ES256);
        bench.useProvider(provider);
        @SuppressWarnings("unchecked")
        Supplier<Object>[] ops = new Supplier[] {bench::bearerCachedToken, bench::dpopCachedToken, () -> {
            try {
                return bench.es256ProofSignatureOnly();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }};
        ThreadCpu.Totals totals = ThreadCpu.turns(ops, seconds, turns, () -> { });
        System.out.println("operation            ops  cpu_us_per_op  (EC provider: " + (provider == null ? "JDK" : provider.getName()) + ")");
        for (int i = 0; i < ops.length; i++) {
            System.out.printf("%-20s %8d %10.2f%n", names[i], totals.count()[i], totals.cpuMicrosPerOp(i));
        }
        bench.tearDown();
    }
}
