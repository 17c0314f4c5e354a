package dev.portcullis.authn;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSObject;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.Payload;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyFactory;
import java.security.Provider;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The JCA provider for token signature checks: Amazon Corretto Crypto Provider (ACCP, native AWS-LC)
 * for each algorithm it verifies correctly here, else the JDK's own provider. Covers ES256/384/512,
 * RS256/384/512 and PS256/384/512; each algorithm is self-tested through the same Nimbus verifier the
 * request path uses (a good signature verifies, a changed one does not), and only algorithms that pass
 * are pointed at ACCP. Nothing is installed into {@link java.security.Security}.
 *
 * <p>Why: a token never seen before pays one signature check. On JDK 17, SunEC's P-256 verification
 * costs ~20× ACCP's and SunRsaSign's RS256 about twice ACCP's (issue 13: ~40 µs against ~18 µs;
 * bench/README.md, "Signature checks and the JCA provider"). ACCP ships its native library for Linux
 * x86-64 in its jar; anywhere else (another OS or architecture, musl, no writable temporary directory to
 * extract it to) it does not load, and the gateway falls back to the JDK provider. The choice is made
 * once, logged once at INFO, and never fails startup.
 *
 * <p>When: the first verifier asks for it ({@link #apply}), and the choice is then made on a daemon
 * thread: loading a native library and its self-tests (an RSA key is generated for them) are blocking
 * work, never for an event loop. Until the choice is made, verifiers use the JDK's provider.
 */
public final class SignatureProvider {
    private static final Logger log = LoggerFactory.getLogger(SignatureProvider.class);

    /** The algorithms a candidate provider is tested for (one per verifier family and hash). */
    static final List<JWSAlgorithm> ALGORITHMS = List.of(
            JWSAlgorithm.ES256, JWSAlgorithm.ES384, JWSAlgorithm.ES512,
            JWSAlgorithm.RS256, JWSAlgorithm.RS384, JWSAlgorithm.RS512,
            JWSAlgorithm.PS256, JWSAlgorithm.PS384, JWSAlgorithm.PS512);

    /** A provider and the algorithms it passed its self-test for; {@link #JDK}: none (the JDK's providers for all). */
    public record Choice(Provider provider, Set<JWSAlgorithm> algorithms) {
        public static final Choice JDK = new Choice(null, Set.of());

        public Choice {
            algorithms = Set.copyOf(algorithms);
        }

        /** The provider for {@code alg}, or {@code null} for the JDK's default. */
        public Provider providerFor(JWSAlgorithm alg) {
            return provider != null && algorithms.contains(alg) ? provider : null;
        }
    }

    private static volatile Choice chosen;
    private static final AtomicBoolean started = new AtomicBoolean();

    private SignatureProvider() {}

    /** The choice, made now if need be (blocking: never call on an event loop). */
    public static Choice get() {
        Choice choice = chosen;
        if (choice == null) {
            synchronized (SignatureProvider.class) {
                choice = chosen;
                if (choice == null) {
                    choice = choose(SignatureProvider::accp);
                    chosen = choice;
                }
            }
        }
        return choice;
    }

    /**
     * Points a verifier for {@code alg} at the chosen provider when that provider passed the self-test
     * for {@code alg}; otherwise returns it unchanged (JDK provider). Never blocks: before the choice is
     * made (the first call starts it in the background), every verifier keeps the JDK's provider.
     */
    public static JWSVerifier apply(JWSVerifier verifier, JWSAlgorithm alg) {
        Choice choice = chosen;
        if (choice == null) {
            chooseInBackground();
            return verifier;
        }
        Provider provider = choice.providerFor(alg);
        if (provider != null) {
            verifier.getJCAContext().setProvider(provider);
        }
        return verifier;
    }

    /**
     * {@code key} as the chosen provider's own key object when that provider verifies {@code alg} (for ACCP: a native
     * key, made once here instead of on every signature check); otherwise, or if the provider cannot translate it,
     * {@code key} unchanged. Never blocks: before the choice is made it returns {@code key}.
     */
    public static Key providerKey(Key key, JWSAlgorithm alg) {
        Choice choice = chosen;
        Provider provider = choice == null ? null : choice.providerFor(alg);
        return provider == null ? key : translated(provider, key);
    }

    /** {@code key} translated by {@code provider}'s key factory, or {@code key} itself if it cannot be. */
    static Key translated(Provider provider, Key key) {
        try {
            return KeyFactory.getInstance(key.getAlgorithm(), provider).translateKey(key);
        } catch (GeneralSecurityException | RuntimeException e) {
            return key;
        }
    }

    /** Whether the choice is made: from then on {@link #apply} always points a verifier at the same provider. */
    public static boolean decided() {
        return chosen != null;
    }

    /** Starts the choice on a daemon thread, once. */
    static void chooseInBackground() {
        if (chosen == null && started.compareAndSet(false, true)) {
            Thread chooser = new Thread(SignatureProvider::get, "portcullis-signature-provider");
            chooser.setDaemon(true);
            chooser.start();
        }
    }

    /**
     * {@code candidate} with the algorithms it verifies correctly (a good signature made by the JDK's
     * provider verifies, a changed one does not), or {@link Choice#JDK} if it cannot be created or passes
     * none. Logs the outcome once at INFO.
     */
    static Choice choose(Supplier<Provider> candidate) {
        Provider provider;
        try {
            provider = candidate.get();
        } catch (Throwable unavailable) { // LinkageError from a native library included: never fail startup
            log.info("Signature verification: JDK providers (native provider unavailable: {})", unavailable.toString());
            return Choice.JDK;
        }
        Set<JWSAlgorithm> passed = new LinkedHashSet<>();
        List<String> failed = new java.util.ArrayList<>();
        Keys keys;
        try {
            keys = Keys.generate();
        } catch (JOSEException e) {
            log.info("Signature verification: JDK providers (self-test keys could not be made: {})", e.toString());
            return Choice.JDK;
        }
        for (JWSAlgorithm alg : ALGORITHMS) {
            try {
                selfTest(provider, alg, keys);
                passed.add(alg);
            } catch (Throwable e) {
                failed.add(alg.getName());
            }
        }
        if (passed.isEmpty()) {
            log.info("Signature verification: JDK providers ({} failed its self-test for every algorithm)", provider.getName());
            return Choice.JDK;
        }
        log.info("Signature verification: {} {} for {}{}", provider.getName(), provider.getVersionStr(), passed,
                failed.isEmpty() ? "" : "; JDK providers for " + failed);
        return new Choice(provider, passed);
    }

    private static Provider accp() {
        var accp = com.amazon.corretto.crypto.provider.AmazonCorrettoCryptoProvider.INSTANCE;
        Throwable loading = accp.getLoadingError();
        if (loading != null) {
            throw new IllegalStateException("ACCP native library did not load: " + loading, loading);
        }
        accp.assertHealthy();
        return accp;
    }

    /** The self-test keys: one EC key per curve, one RSA key. */
    private record Keys(ECKey p256, ECKey p384, ECKey p521, RSAKey rsa) {
        static Keys generate() throws JOSEException {
            return new Keys(new ECKeyGenerator(Curve.P_256).generate(), new ECKeyGenerator(Curve.P_384).generate(),
                    new ECKeyGenerator(Curve.P_521).generate(), new RSAKeyGenerator(2048).generate());
        }

        ECKey ec(JWSAlgorithm alg) {
            return alg.equals(JWSAlgorithm.ES256) ? p256 : alg.equals(JWSAlgorithm.ES384) ? p384 : p521;
        }
    }

    /**
     * A JDK-made signature for {@code alg} must verify through {@code provider}, and one over another payload must not,
     * with the key as the request path gives it to the verifier: translated by the provider ({@link #providerKey}).
     */
    private static void selfTest(Provider provider, JWSAlgorithm alg, Keys keys) throws JOSEException, java.text.ParseException {
        boolean ec = JWSAlgorithm.Family.EC.contains(alg);
        JWSSigner signer = ec ? new ECDSASigner(keys.ec(alg)) : new RSASSASigner(keys.rsa());
        JWSVerifier verifier = ec
                ? new ECDSAVerifier((ECPublicKey) translated(provider, keys.ec(alg).toECPublicKey()))
                : new RSASSAVerifier((RSAPublicKey) translated(provider, keys.rsa().toRSAPublicKey()));
        verifier.getJCAContext().setProvider(provider);
        JWSObject good = new JWSObject(new JWSHeader(alg), new Payload("portcullis signature provider self-test"));
        good.sign(signer);
        JWSObject other = new JWSObject(good.getHeader().toBase64URL(), new Payload("portcullis signature provider self-tesT"),
                good.getSignature());
        if (!verifier.verify(good.getHeader(), good.getSigningInput(), good.getSignature())) {
            throw new IllegalStateException(provider.getName() + " rejected a valid " + alg + " signature");
        }
        if (verifier.verify(other.getHeader(), other.getSigningInput(), other.getSignature())) {
            throw new IllegalStateException(provider.getName() + " accepted a " + alg + " signature over another message");
        }
    }
}
