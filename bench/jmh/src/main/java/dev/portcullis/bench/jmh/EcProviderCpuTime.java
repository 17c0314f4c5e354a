package dev.portcullis.bench.jmh;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.security.Provider;

/**
 * {@link EcProviderBenchmark}'s comparison on a shared machine: JMH's scores are wall time, which
 * other work on the CPUs inflates; this counts the measuring thread's own CPU time per verification
 * ({@code ThreadMXBean}), which time spent descheduled does not inflate. Providers are measured in
 * turns (A B C A B C ...) after a warm-up, so a burst of load hits all of them alike.
 *
 * <pre>java -cp bench/jmh/target/benchmarks.jar dev.portcullis.bench.jmh.EcProviderCpuTime [seconds per turn] [turns]</pre>
 */
public final class EcProviderCpuTime {
    private EcProviderCpuTime() {}

    public static void main(String[] args) throws Exception {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 1.0;
        int turns = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        String[] names = {"SunEC", "BC", "ACCP"};
        ECKey ec = new ECKeyGenerator(Curve.P_256).keyID("ec").generate();
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).keyID("ec").build(),
                new JWTClaimsSet.Builder().issuer(BenchIssuer.ISSUER).subject("bench-user").build());
        jwt.sign(new ECDSASigner(ec));
        jwt = SignedJWT.parse(jwt.serialize());
        ECDSAVerifier[] verifiers = new ECDSAVerifier[names.length];
        for (int i = 0; i < names.length; i++) {
            Provider provider = EcProviderBenchmark.provider(names[i]);
            verifiers[i] = new ECDSAVerifier(ec.toECPublicKey());
            verifiers[i].getJCAContext().setProvider(provider);
        }
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        for (int i = 0; i < names.length; i++) {
            run(jwt, verifiers[i], 2.0, threads); // warm-up
        }
        long[] ops = new long[names.length];
        long[] cpu = new long[names.length];
        long[] wall = new long[names.length];
        for (int t = 0; t < turns; t++) {
            for (int i = 0; i < names.length; i++) {
                long[] r = run(jwt, verifiers[i], seconds, threads);
                ops[i] += r[0];
                cpu[i] += r[1];
                wall[i] += r[2];
            }
        }
        System.out.println("provider  ops  cpu_us_per_op  wall_us_per_op  (" + System.getProperty("java.vm.version") + ")");
        for (int i = 0; i < names.length; i++) {
            System.out.printf("%-7s %6d %10.1f %10.1f%n", names[i], ops[i], cpu[i] / 1e3 / ops[i], wall[i] / 1e3 / ops[i]);
        }
    }

    private static long[] run(SignedJWT jwt, ECDSAVerifier verifier, double seconds, ThreadMXBean threads) throws Exception {
        long cpu0 = threads.getCurrentThreadCpuTime();
        long wall0 = System.nanoTime();
        long end = wall0 + (long) (seconds * 1e9);
        long ops = 0;
        while (System.nanoTime() < end) {
            if (!jwt.verify(verifier)) {
                throw new IllegalStateException("verification failed");
            }
            ops++;
        }
        return new long[] {ops, threads.getCurrentThreadCpuTime() - cpu0, System.nanoTime() - wall0};
    }
}
