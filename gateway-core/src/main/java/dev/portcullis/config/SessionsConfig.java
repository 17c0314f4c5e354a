package dev.portcullis.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

/**
 * How gateway session ids are sealed (see {@code dev.portcullis.authn.SessionBinding}).
 *
 * @param keyFile a file holding a base64-encoded 32-byte key, shared by every replica so any of them
 *                can serve any session (e.g. a Kubernetes Secret: {@code head -c 32 /dev/urandom | base64}).
 *                Absent: each process makes its own key, and sessions need sticky routing across replicas
 * @param previousKeyFiles keys that still open session ids but no longer seal them: key rotation without
 *                cutting sessions (put the new key in {@code key-file}, the old one here, roll the
 *                replicas; once every replica seals with the new key and old sessions have ended, drop it)
 */
public record SessionsConfig(Path keyFile, List<Path> previousKeyFiles) {
    public SessionsConfig {
        previousKeyFiles = previousKeyFiles == null ? List.of() : List.copyOf(previousKeyFiles);
        if (keyFile != null) {
            readKey(keyFile);
        } else if (!previousKeyFiles.isEmpty()) {
            throw ConfigException.expected("previous-key-files", previousKeyFiles.toString(),
                    "only beside key-file (the key that seals new session ids)");
        }
        for (Path previous : previousKeyFiles) {
            readKey(previous);
        }
    }

    public SessionsConfig(Path keyFile) {
        this(keyFile, List.of());
    }

    public static SessionsConfig defaults() {
        return new SessionsConfig(null, List.of());
    }

    /** The keys of {@code previous-key-files}, in order. */
    public List<byte[]> previousKeys() {
        return previousKeyFiles.stream().map(SessionsConfig::readKey).toList();
    }

    /** The key bytes; the file's content is never part of an error message. */
    public byte[] key() {
        return keyFile == null ? null : readKey(keyFile);
    }

    private static byte[] readKey(Path file) {
        String text;
        try {
            text = Files.readString(file).strip();
        } catch (IOException e) {
            throw ConfigException.expected("key-file", file.toString(), "a readable file with a base64 32-byte key");
        }
        byte[] key;
        try {
            key = Base64.getDecoder().decode(text);
        } catch (IllegalArgumentException e) {
            throw ConfigException.expected("key-file", file.toString(), "base64 text of 32 random bytes");
        }
        if (key.length != 32) {
            Arrays.fill(key, (byte) 0);
            throw ConfigException.expected("key-file", file.toString(), "exactly 32 bytes once base64-decoded");
        }
        return key;
    }
}
