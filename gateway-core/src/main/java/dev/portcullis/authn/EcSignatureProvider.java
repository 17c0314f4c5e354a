package dev.portcullis.authn;

import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Provider;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The JCA provider for ES256/ES384/ES512 signature verification: Amazon Corretto Crypto Provider
 * (ACCP, native AWS-LC) when its native library loads and passes a self-test here, else the JDK's
 * own provider (SunEC). Only EC signature checks use it; RSA stays on the JDK provider, and nothing
 * is installed into {@link java.security.Security}.
 *
 * <p>Why: on JDK 17 SunEC's P-256 verification costs ~20× ACCP's (bench/README.md, "ES256 and the
 * JCA provider"), and a token never seen before pays it once. ACCP ships its native library for
 * Linux x86-64 in its jar; anywhere else (another OS or architecture, musl, no writable temporary
 * directory to extract it to) it does not load, and the gateway falls back to the JDK provider. The
 * choice is made once, logged once at INFO, and never fails startup.
 *
 * <p>When: the first EC verifier asks for it ({@link #apply}), and the choice is then made on a daemon
 * thread: loading a native library and its self-tests are blocking work (never for an event loop),
 * and they cost ~0.3-0.6 s of a cold start on a small machine, which a gateway whose issuers sign
 * with RSA need not pay at all. Until the choice is made, EC verifiers use the JDK's provider.
 */
public final class EcSignatureProvider {
    private static final Logger log = LoggerFactory.getLogger(EcSignatureProvider.class);
    private static volatile Provider chosen;
    private static volatile boolean resolved;
    private static final java.util.concurrent.atomic.AtomicBoolean started = new java.util.concurrent.atomic.AtomicBoolean();

    private EcSignatureProvider() {}

    /** The provider for EC signature checks, or {@code null} for the JDK's default; chooses it if need be (blocking). */
    public static Provider get() {
        if (!resolved) {
            synchronized (EcSignatureProvider.class) {
                if (!resolved) {
                    chosen = choose(EcSignatureProvider::accp);
                    resolved = true;
                }
            }
        }
        return chosen;
    }

    /**
     * Points an EC verifier at the chosen provider; any other verifier is returned as it is. Never
     * blocks: before the choice is made (the first call starts it in the background), the verifier
     * keeps the JDK's provider.
     */
    public static JWSVerifier apply(JWSVerifier verifier) {
        if (verifier instanceof ECDSAVerifier) {
            if (!resolved) {
                chooseInBackground();
                return verifier;
            }
            Provider provider = chosen;
            if (provider != null) {
                verifier.getJCAContext().setProvider(provider);
            }
        }
        return verifier;
    }

    /** Starts the choice on a daemon thread, once. */
    static void chooseInBackground() {
        if (!resolved && started.compareAndSet(false, true)) {
            Thread chooser = new Thread(EcSignatureProvider::get, "portcullis-ec-provider");
            chooser.setDaemon(true);
            chooser.start();
        }
    }

    /**
     * {@code candidate} if it can be created and verifies a P-256 signature correctly (and rejects a
     * changed one), else {@code null} (the JDK's provider). Logs the outcome once at INFO.
     */
    static Provider choose(Supplier<Provider> candidate) {
        Provider provider;
        try {
            provider = candidate.get();
            selfTest(provider);
        } catch (Throwable unavailable) { // LinkageError from a native library included: never fail startup
            log.info("EC signature verification: JDK provider {} (native provider unavailable: {})",
                    jdkProviderName(), unavailable.toString());
            return null;
        }
        log.info("EC signature verification: {} {}", provider.getName(), provider.getVersionStr());
        return provider;
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

    /** A signature from the JDK's provider must verify with {@code provider}, and a changed one must not. */
    private static void selfTest(Provider provider) throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair pair = generator.generateKeyPair();
        byte[] message = "portcullis EC provider self-test".getBytes(StandardCharsets.US_ASCII);
        Signature signer = Signature.getInstance("SHA256withECDSA");
        signer.initSign(pair.getPrivate());
        signer.update(message);
        byte[] signature = signer.sign();
        if (!verifies(provider, pair, message, signature)) {
            throw new IllegalStateException(provider.getName() + " rejected a valid P-256 signature");
        }
        message[0] ^= 1;
        if (verifies(provider, pair, message, signature)) {
            throw new IllegalStateException(provider.getName() + " accepted a P-256 signature over another message");
        }
    }

    private static boolean verifies(Provider provider, KeyPair pair, byte[] message, byte[] signature) throws Exception {
        Signature verifier = Signature.getInstance("SHA256withECDSA", provider);
        verifier.initVerify(pair.getPublic());
        verifier.update(message);
        try {
            return verifier.verify(signature);
        } catch (java.security.SignatureException malformed) {
            return false;
        }
    }

    private static String jdkProviderName() {
        try {
            return Signature.getInstance("SHA256withECDSA").getProvider().getName();
        } catch (Exception e) {
            return "default";
        }
    }
}
