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
import java.security.Provider;
import java.util.function.Supplier;

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
        SignedJWT signed = jwt;
        @SuppressWarnings("unchecked")
        Supplier<Object>[] ops = new Supplier[names.length];
        for (int i = 0; i < names.length; i++) {
            ECDSAVerifier verifier = verifiers[i];
            ops[i] = () -> {
                try {
                    if (!signed.verify(verifier)) {
                        throw new IllegalStateException("verification failed");
                    }
                    return Boolean.TRUE;
                } catch (com.nimbusds.jose.JOSEException e) {
                    throw new IllegalStateException(e);
                }
            };
        }
        ThreadCpu.Totals totals = ThreadCpu.turns(ops, seconds, turns, () -> { });
        System.out.println("provider  ops  cpu_us_per_op  wall_us_per_op  (" + System.getProperty("java.vm.version") + ")");
        for (int i = 0; i < names.length; i++) {
            System.out.printf("%-7s %6d %10.1f %10.1f%n", names[i], totals.count()[i], totals.cpuMicrosPerOp(i), totals.wallMicrosPerOp(i));
        }
    }
}
