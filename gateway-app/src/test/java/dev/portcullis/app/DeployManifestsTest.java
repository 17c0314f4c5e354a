package dev.portcullis.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;
import static org.assertj.core.api.Assertions.tuple;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import dev.portcullis.app.config.ConfigLoader;
import dev.portcullis.config.GatewayConfig;
import dev.portcullis.config.RouteConfig;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.HTTPGetAction;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.KeyToPath;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyIngressRule;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeer;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPort;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The deployment artifacts under {@code deploy/} are real Kubernetes objects and agree with the
 * gateway: every manifest is read into the fabric8 Kubernetes model (unknown fields are errors),
 * the gateway.yaml it carries loads with {@link ConfigLoader} against a copy of the pod's file
 * system built from its volume mounts, and ports, probes, mounts, security context, shutdown
 * timing, Service, PodDisruptionBudget and NetworkPolicy are checked against that configuration.
 * The Helm chart is rendered with Helm itself (helm-java) and its output goes through the same
 * checks. The mutation cases at the end break one thing in a manifest and expect the checks to
 * notice.
 */
class DeployManifestsTest {
    private static final Path DEPLOY = findDeployDirectory();
    private static final Path KUBERNETES = DEPLOY.resolve("kubernetes");
    private static final Path CHART = DEPLOY.resolve("helm/portcullis");
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    /** The only kinds the examples use, each at the API version current clusters serve. */
    private static final Map<String, Class<? extends HasMetadata>> KINDS = Map.ofEntries(
            Map.entry("v1/ConfigMap", ConfigMap.class),
            Map.entry("v1/Secret", Secret.class),
            Map.entry("v1/Service", Service.class),
            Map.entry("v1/ServiceAccount", ServiceAccount.class),
            Map.entry("apps/v1/Deployment", Deployment.class),
            Map.entry("policy/v1/PodDisruptionBudget", PodDisruptionBudget.class),
            Map.entry("networking.k8s.io/v1/NetworkPolicy", NetworkPolicy.class),
            Map.entry("networking.k8s.io/v1/Ingress", Ingress.class),
            Map.entry("autoscaling/v2/HorizontalPodAutoscaler", HorizontalPodAutoscaler.class),
            Map.entry("gateway.networking.k8s.io/v1/HTTPRoute", HTTPRoute.class),
            // Custom resources without a model here: read generically, their fields checked by name.
            Map.entry("monitoring.coreos.com/v1/ServiceMonitor", GenericKubernetesResource.class),
            Map.entry("cert-manager.io/v1/Certificate", GenericKubernetesResource.class));

    /** Label of the one Service allowed to reach the admin port: the ServiceMonitor's (metrics only). */
    private static final String METRICS_SERVICE_LABEL = "portcullis.dev/metrics";

    /**
     * After {@code listen.shutdown-grace}, {@code Gateway.close()} gives the calls still running 2 s to be
     * sent their "Gateway shutting down" error ({@code Gateway.GRACE_OVER_WRITE}, issue 14), then waits up to
     * 5 s for the remaining connections and up to 5 s for the admin listener.
     */
    private static final long CLOSE_SECONDS = Gateway.GRACE_OVER_WRITE.toSeconds() + 10;

    private static final String IMAGE_CMD_CONFIG = "/etc/portcullis/gateway.yaml";

    /** What a manifest set is meant to be. */
    enum Mode { SIDECAR, STANDALONE }

    record Expect(Mode mode, boolean upstreamLockdown, String defaultNamespace) {}

    // ---------------------------------------------------------------------------------------
    // Plain manifests: deploy/kubernetes/*.yaml

    static Stream<Arguments> kubernetesManifests() {
        return Stream.of(
                Arguments.of("sidecar.yaml", new Expect(Mode.SIDECAR, false, "default")),
                Arguments.of("ingress-style.yaml", new Expect(Mode.STANDALONE, true, "default")));
    }

    @Test
    void everyManifestInDeployKubernetesIsChecked() throws IOException {
        Set<String> files;
        try (Stream<Path> list = Files.list(KUBERNETES)) {
            files = list.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".yaml") || n.endsWith(".yml"))
                    .collect(Collectors.toCollection(TreeSet::new));
        }
        Set<String> checked = kubernetesManifests().map(a -> (String) a.get()[0]).collect(Collectors.toCollection(TreeSet::new));
        assertThat(files).as("deploy/kubernetes/*.yaml, each with an expectation in kubernetesManifests()").isEqualTo(checked);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("kubernetesManifests")
    void kubernetesManifestIsValidAndMatchesTheGatewayConfig(String file, Expect expect, @TempDir Path podRoot) throws IOException {
        String yaml = Files.readString(KUBERNETES.resolve(file), StandardCharsets.UTF_8);
        GatewayConfig config = checkManifests(yaml, "deploy/kubernetes/" + file, expect, List.of(), podRoot);
        if (expect.mode() == Mode.STANDALONE) {
            assertThat(config.routes()).as("%s: an ingress-style gateway with several routes", file).hasSizeGreaterThan(1);
        }
    }

    @Test
    void sidecarManifestKeepsTheMcpServerOnLoopback() throws IOException {
        String yaml = Files.readString(KUBERNETES.resolve("sidecar.yaml"), StandardCharsets.UTF_8);
        Deployment deployment = only(parse(yaml, "sidecar.yaml"), Deployment.class, "sidecar.yaml");
        Container mcp = deployment.getSpec().getTemplate().getSpec().getContainers().stream()
                .filter(c -> c.getName().equals("mcp-server")).findFirst().orElseThrow();
        assertThat(mcp.getEnv()).as("the example tells the MCP server to bind to loopback")
                .extracting(EnvVar::getName, EnvVar::getValue).contains(tuple("HOST", "127.0.0.1"));
        assertThat(mcp.getPorts()).as("the MCP server declares no ports").isEmpty();
    }

    // ---------------------------------------------------------------------------------------
    // Helm chart: deploy/helm/portcullis rendered by Helm

    static Stream<Arguments> chartValues() {
        return Stream.of(
                Arguments.of("values.yaml (defaults)", null, new Expect(Mode.STANDALONE, false, "portcullis")),
                Arguments.of("ci/sidecar-values.yaml", "ci/sidecar-values.yaml", new Expect(Mode.SIDECAR, false, "portcullis")),
                Arguments.of("ci/mesh-values.yaml", "ci/mesh-values.yaml", new Expect(Mode.STANDALONE, true, "portcullis")),
                Arguments.of("ci/full-values.yaml", "ci/full-values.yaml", new Expect(Mode.STANDALONE, false, "portcullis")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("chartValues")
    void helmChartRendersManifestsThatMatchTheGatewayConfig(String name, String valuesFile, Expect expect, @TempDir Path podRoot)
            throws IOException {
        TemplateCommand template = new Helm(CHART).template().withName("portcullis").withNamespace("portcullis");
        if (valuesFile != null) {
            template = template.withValuesFile(CHART.resolve(valuesFile));
        }
        String rendered = template.call();
        String source = "helm template " + name;
        List<HasMetadata> objects = parse(rendered, source);
        // The TLS secret is the operator's (kubectl create secret tls / cert-manager), not the chart's.
        List<HasMetadata> external = new ArrayList<>();
        for (Deployment d : all(objects, Deployment.class)) {
            for (Volume v : d.getSpec().getTemplate().getSpec().getVolumes()) {
                if (v.getSecret() != null && v.getName().equals("tls")) {
                    external.add(parse("apiVersion: v1\nkind: Secret\nmetadata: {name: " + v.getSecret().getSecretName()
                            + "}\ntype: kubernetes.io/tls\nstringData: {tls.crt: PEM, tls.key: PEM}\n", "operator").get(0));
                }
            }
        }
        GatewayConfig config = checkManifests(rendered, source, expect, external, podRoot);

        ConfigMap gatewayYaml = all(objects, ConfigMap.class).stream()
                .filter(c -> c.getData() != null && c.getData().containsKey("gateway.yaml")).findFirst().orElseThrow();
        assertThat(only(objects, Deployment.class, source).getSpec().getTemplate().getMetadata().getAnnotations())
                .as("%s: the pod template carries a checksum of gateway.yaml, so a config change rolls the pods", source)
                .containsKey("checksum/config");
        assertThat(gatewayYaml.getData().get("gateway.yaml")).as("rendered with toYaml").doesNotContain("{{");
        if (valuesFile != null && valuesFile.contains("mesh")) {
            assertThat(config.listen().tls()).as("%s: tls.secretName empty means a plain-HTTP listener", source).isNull();
        }
    }

    @Test
    void helmLintPassesStrict() {
        LintResult lint = new Helm(CHART).lint().strict().call();
        assertThat(lint.isFailed()).as("helm lint --strict: %s", lint.getMessages()).isFalse();
    }

    private static final String ONE_ROUTE = """
            config:
              routes:
                - name: todo
                  path: /todo/mcp
                  upstream: %s
                  allow-insecure-upstream: true
                  resource: https://mcp.example.com/todo/mcp
                  policy: %s
            """;

    static Stream<Arguments> badChartValues() {
        String service = "http://todo-mcp.mcp-servers.svc.cluster.local:3000/mcp";
        String loopback = "http://127.0.0.1:3000/mcp";
        String todo = "/etc/portcullis/policies/todo.yaml";
        String mcpServer = "sidecar:\n  container: { name: mcp-server, image: todo-mcp-server:1.0.0 }\n";
        return Stream.of(
                Arguments.of("unknown mode", "mode: bogus\n", "mode"),
                Arguments.of("policy file not in policies", ONE_ROUTE.formatted(service, "/etc/portcullis/policies/missing.yaml"),
                        "config.routes[0].policy"),
                Arguments.of("policy file outside the policies mount", ONE_ROUTE.formatted(service, "/etc/other/todo.yaml"),
                        "config.routes[0].policy"),
                Arguments.of("admin port on loopback", "config:\n  admin: { host: 127.0.0.1, port: 9090 }\n", "config.admin.host"),
                Arguments.of("TLS paths by hand", "config:\n  listen: { tls: { certificate: /x/tls.crt, private-key: /x/tls.key } }\n",
                        "tls.secretName"),
                Arguments.of("sidecar routing off the pod", "mode: sidecar\n" + mcpServer + ONE_ROUTE.formatted(service, todo),
                        "config.routes[0].upstream"),
                Arguments.of("sidecar without the MCP server", "mode: sidecar\n" + ONE_ROUTE.formatted(loopback, todo),
                        "sidecar.container"),
                Arguments.of("session key paths by hand", "config:\n  sessions: { key-file: /x/session.key }\n", "sessions.existingSecret"),
                Arguments.of("certificate without a TLS secret", "tls: { secretName: \"\" }\ncertManager: { enabled: true }\n",
                        "certManager.enabled"),
                Arguments.of("ingress for a sidecar", "mode: sidecar\n" + mcpServer + ONE_ROUTE.formatted(loopback, todo)
                        + "ingress: { enabled: true }\n", "ingress.enabled"));
    }

    /** The chart refuses values that would render a pod the gateway cannot run in. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("badChartValues")
    void helmChartRefusesInconsistentValues(String what, String values, String mentioned, @TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("values.yaml"), values);
        assertThatThrownBy(() -> new Helm(CHART).template().withName("portcullis").withValuesFile(file).call())
                .as(what).hasMessageContaining(mentioned);
    }

    @Test
    void helmChartRendersWithTheBadValuesCorrected(@TempDir Path dir) throws IOException {
        // The values above fail for the reason named, not for their shape: corrected, they render.
        Path file = Files.writeString(dir.resolve("values.yaml"), "mode: sidecar\n"
                + "sidecar:\n  container: { name: mcp-server, image: todo-mcp-server:1.0.0 }\n"
                + ONE_ROUTE.formatted("http://127.0.0.1:3000/mcp", "/etc/portcullis/policies/todo.yaml"));
        assertThat(new Helm(CHART).template().withName("portcullis").withValuesFile(file).call()).contains("kind: Deployment");
    }

    // ---------------------------------------------------------------------------------------
    // Dockerfile

    @Test
    void dockerfileRunsTheShadedJarAsTheNumericUserTheManifestsExpect() throws IOException {
        String dockerfile = Files.readString(DEPLOY.resolve("docker/Dockerfile"), StandardCharsets.UTF_8);
        List<String> lines = dockerfile.lines().filter(l -> !l.isBlank() && !l.startsWith("#")).toList();
        assertThat(lines.get(0)).matches("FROM eclipse-temurin:17-jre\\S*");
        assertThat(lines).contains("COPY gateway-app/target/portcullis.jar /app/portcullis.jar");
        Matcher user = Pattern.compile("(?m)^USER (\\d+):(\\d+)$").matcher(dockerfile);
        assertThat(user.find()).as("USER uid:gid, numeric, so runAsNonRoot can be verified").isTrue();
        assertThat(Long.parseLong(user.group(1))).isPositive();
        Matcher entry = Pattern.compile("(?m)^ENTRYPOINT \\[(.*)]$").matcher(dockerfile);
        assertThat(entry.find()).isTrue();
        List<String> entrypoint = jsonArray(entry.group(1));
        assertThat(entrypoint.get(0)).isEqualTo("java");
        assertThat(entrypoint.subList(entrypoint.size() - 2, entrypoint.size())).containsExactly("-jar", "/app/portcullis.jar");
        // Cold start: the archive the training run writes is the one the entrypoint maps, and the
        // training command is one the jar accepts (DemoTest runs the exercise itself).
        assertThat(entrypoint).contains("-XX:SharedArchiveFile=/app/portcullis.jsa");
        String training = dockerfile.replace("\\\n", " ").lines().filter(l -> l.startsWith("RUN java ")).findFirst().orElseThrow();
        assertThat(training).contains("-XX:ArchiveClassesAtExit=/app/portcullis.jsa", "-jar /app/portcullis.jar");
        String[] trainingArgs = training.substring(training.indexOf("/app/portcullis.jar") + "/app/portcullis.jar".length()).trim().split("\\s+");
        assertThat(trainingArgs).containsExactly("demo", "--port", "0", "--exercise");
        assertThat(new picocli.CommandLine(new Main()).parseArgs(trainingArgs).subcommand().commandSpec().name()).isEqualTo("demo");
        Matcher cmd = Pattern.compile("(?m)^CMD \\[(.*)]$").matcher(dockerfile);
        assertThat(cmd.find()).isTrue();
        assertThat(jsonArray(cmd.group(1))).containsExactly("run", "--config", IMAGE_CMD_CONFIG);

        for (String file : List.of("sidecar.yaml", "ingress-style.yaml")) {
            Deployment d = only(parse(Files.readString(KUBERNETES.resolve(file)), file), Deployment.class, file);
            PodSpec pod = d.getSpec().getTemplate().getSpec();
            Container gateway = gatewayContainer(pod, file);
            assertThat(gateway.getCommand()).as("%s: the image's ENTRYPOINT is kept", file).isEmpty();
            assertThat(gateway.getArgs()).as("%s: args as the image's CMD", file).containsExactly("run", "--config", IMAGE_CMD_CONFIG);
            assertThat(effective(gateway, pod, SecurityContext::getRunAsUser, PodSecurityContext::getRunAsUser))
                    .as("%s: runAsUser is the image's USER", file).isEqualTo(Long.parseLong(user.group(1)));
        }
    }

    // ---------------------------------------------------------------------------------------
    // The checks break when a manifest breaks

    static Stream<Arguments> brokenSidecar() {
        return Stream.of(
                Arguments.of("admin port differs from admin.port", "{ name: admin, containerPort: 9090 }",
                        "{ name: admin, containerPort: 9091 }", "admin.port"),
                Arguments.of("listen port differs from listen.port", "{ name: https, containerPort: 8443 }",
                        "{ name: https, containerPort: 8444 }", "listen.port"),
                Arguments.of("readiness probe path", "path: /readyz", "path: /ready", "/readyz"),
                Arguments.of("liveness probe on the gateway port", "{ path: /healthz, port: admin }",
                        "{ path: /healthz, port: https }", "admin port"),
                Arguments.of("writable root filesystem", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false",
                        "readOnlyRootFilesystem"),
                Arguments.of("grace period shorter than the drain", "terminationGracePeriodSeconds: 45",
                        "terminationGracePeriodSeconds: 25", "terminationGracePeriodSeconds"),
                Arguments.of("Service exposes the admin port", "{ name: https, port: 443, targetPort: https }",
                        "{ name: https, port: 443, targetPort: admin }", "Service"),
                Arguments.of("policy file missing from the ConfigMap", "  todo.yaml: |", "  todos.yaml: |", "policy"),
                Arguments.of("TLS secret mounted elsewhere", "{ name: tls, mountPath: /etc/portcullis/tls, readOnly: true }",
                        "{ name: tls, mountPath: /etc/portcullis/certs, readOnly: true }", "certificate"),
                Arguments.of("policies mounted with subPath", "{ name: policies, mountPath: /etc/portcullis/policies, readOnly: true }",
                        "{ name: policies, mountPath: /etc/portcullis/policies/todo.yaml, subPath: todo.yaml, readOnly: true }",
                        "directory"),
                Arguments.of("unknown gateway.yaml key", "    scopes: [mcp:tools]", "    scope: [mcp:tools]", "unknown key"),
                Arguments.of("unknown Kubernetes field", "readinessProbe:", "readinesProbe:", "unknown field"),
                Arguments.of("NetworkPolicy opens the admin port", "- { protocol: TCP, port: 8443 }",
                        "- { protocol: TCP, port: 9090 }", "NetworkPolicy"),
                Arguments.of("heap and direct memory over the limit", "-XX:MaxRAMPercentage=50", "-XX:MaxRAMPercentage=90",
                        "memory limit"),
                Arguments.of("MCP server stops before the drain ends", "seconds: 30", "seconds: 10", "preStop"),
                Arguments.of("PodDisruptionBudget blocks every drain", "maxUnavailable: 1                          # node drains",
                        "maxUnavailable: 0                          # node drains", "PodDisruptionBudget"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("brokenSidecar")
    void checksFailWhenTheSidecarManifestBreaks(String what, String from, String to, String mentioned, @TempDir Path podRoot)
            throws IOException {
        String yaml = Files.readString(KUBERNETES.resolve("sidecar.yaml"), StandardCharsets.UTF_8);
        assertThat(yaml).as("the mutation's anchor text").contains(from);
        String broken = yaml.replace(from, to);
        assertThatThrownBy(() -> checkManifests(broken, "broken sidecar.yaml", new Expect(Mode.SIDECAR, false, "default"),
                List.of(), podRoot))
                .as(what).isInstanceOf(AssertionError.class).hasMessageContaining(mentioned);
    }

    @Test
    void checksFailWhenTheMcpServersAreNotLockedDown(@TempDir Path podRoot) throws IOException {
        String yaml = Files.readString(KUBERNETES.resolve("ingress-style.yaml"), StandardCharsets.UTF_8);
        String broken = yaml.replace("kubernetes.io/metadata.name: portcullis", "kubernetes.io/metadata.name: agents");
        assertThat(broken).isNotEqualTo(yaml);
        assertThatThrownBy(() -> checkManifests(broken, "broken ingress-style.yaml", new Expect(Mode.STANDALONE, true, "default"),
                List.of(), podRoot))
                .isInstanceOf(AssertionError.class).hasMessageContaining("mcp-servers");
    }

    // ---------------------------------------------------------------------------------------
    // The checks

    /** Every check on one manifest set; returns the gateway configuration it carries. */
    static GatewayConfig checkManifests(String yaml, String source, Expect expect, List<HasMetadata> external, Path podRoot)
            throws IOException {
        List<HasMetadata> objects = parse(yaml, source);
        for (HasMetadata o : objects) {
            assertThat(o.getMetadata().getName()).as("%s: %s name", source, o.getKind()).matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
        }
        Deployment deployment = only(objects, Deployment.class, source);
        external = withOperatorSessionKeys(objects, external, deployment);
        Bundle bundle = new Bundle(objects, external, expect.defaultNamespace());
        String where = source + ": Deployment " + deployment.getMetadata().getName();
        PodSpec pod = deployment.getSpec().getTemplate().getSpec();
        Map<String, String> podLabels = deployment.getSpec().getTemplate().getMetadata().getLabels();
        assertThat(selects(deployment.getSpec().getSelector(), podLabels)).as("%s: selector matches the pod labels", where).isTrue();
        Container gateway = gatewayContainer(pod, where);
        String ns = bundle.namespaceOf(deployment);

        // gateway.yaml: from the mount that provides the --config file, loaded against the pod's files.
        List<String> args = gateway.getArgs();
        assertThat(args).as("%s: portcullis run --config FILE", where).startsWith("run", "--config").hasSize(3);
        String configPath = args.get(2);
        Map<String, VolumeMount> mounts = checkMounts(gateway, pod, where);
        Path root = podRoot.resolve(deployment.getMetadata().getName());
        materialize(root, gateway, pod, bundle, where);
        Path configFile = inPod(root, configPath);
        assertThat(configFile).as("%s: %s is provided by a volume mount", where, configPath).isRegularFile();
        String gatewayYaml = Files.readString(configFile, StandardCharsets.UTF_8);
        List<ConfigMap> withGatewayYaml = bundle.all(ConfigMap.class).stream()
                .filter(c -> c.getData() != null && c.getData().containsKey("gateway.yaml")).toList();
        assertThat(withGatewayYaml).as("%s: one ConfigMap carries gateway.yaml, and it is the mounted one", source).hasSize(1);
        assertThat(withGatewayYaml.get(0).getData().get("gateway.yaml")).isEqualTo(gatewayYaml);

        List<String> policyPaths = policyPaths(gatewayYaml, source);
        String loadable = toPodRoot(gatewayYaml, root, mounts.keySet());
        Map<String, String> env = new LinkedHashMap<>();
        for (EnvVar e : gateway.getEnv()) {
            env.put(e.getName(), e.getValue() != null ? e.getValue() : "from-" + e.getName());
        }
        GatewayConfig config;
        try {
            config = ConfigLoader.parse(loadable, source + " gateway.yaml", null, env::get);
        } catch (ConfigLoader.InvalidConfigException e) {
            throw new AssertionError(where + ": gateway.yaml does not load: " + e.getMessage().replace(root.toString(), ""), e);
        }

        // Ports: exactly listen.port and admin.port.
        int listenPort = config.listen().port();
        int adminPort = config.admin().port();
        Map<Integer, String> ports = new LinkedHashMap<>();
        for (ContainerPort p : gateway.getPorts()) {
            ports.put(p.getContainerPort(), p.getName());
            assertThat(p.getName()).as("%s: port names are IANA_SVC_NAMEs", where).matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?").hasSizeLessThanOrEqualTo(15);
        }
        assertThat(ports).as("%s: the container port for listen.port %d", where, listenPort).containsKey(listenPort);
        assertThat(ports).as("%s: the container port for admin.port %d", where, adminPort).containsEntry(adminPort, "admin");
        assertThat(ports).as("%s: container ports are listen.port and admin.port only", where).hasSize(2);
        assertThat(config.listen().host()).as("%s: listen.host", where).isEqualTo("0.0.0.0");
        assertThat(config.admin().host()).as("%s: admin.host must be 0.0.0.0 for the kubelet's probes on the pod IP", where)
                .isEqualTo("0.0.0.0");

        // Probes: on the admin port.
        checkProbe(gateway.getReadinessProbe(), "readinessProbe", "/readyz", gateway, adminPort, where);
        checkProbe(gateway.getLivenessProbe(), "livenessProbe", "/healthz", gateway, adminPort, where);

        // TLS: the files gateway.yaml names come from a kubernetes.io/tls Secret.
        if (config.listen().tls() != null) {
            for (String file : List.of(podPath(config.listen().tls().certificate(), root), podPath(config.listen().tls().privateKey(), root))) {
                VolumeMount mount = mountHolding(mounts, file);
                assertThat(mount).as("%s: listen.tls certificate/private-key %s is inside a mount", where, file).isNotNull();
                Volume volume = volume(pod, mount.getName(), where);
                assertThat(volume.getSecret()).as("%s: %s comes from a Secret", where, file).isNotNull();
                Secret secret = bundle.secret(volume.getSecret().getSecretName(), ns);
                assertThat(secret).as("%s: Secret %s", where, volume.getSecret().getSecretName()).isNotNull();
                assertThat(secret.getType()).as("%s: Secret %s type", where, secret.getMetadata().getName()).isEqualTo("kubernetes.io/tls");
            }
        }

        // Policies: each route's file is in a ConfigMap mounted as a directory (the symlink swap
        // reaches only directory mounts, never subPath ones), and the ConfigMap has that key.
        assertThat(policyPaths).as("%s: every route names its policy file", where).hasSize(config.routes().size());
        for (String policy : policyPaths) {
            VolumeMount mount = mountHolding(mounts, policy);
            assertThat(mount).as("%s: policy %s is inside a mount", where, policy).isNotNull();
            assertThat(mount.getSubPath()).as("%s: policy %s is mounted as a directory, not with subPath", where, policy).isNull();
            Volume volume = volume(pod, mount.getName(), where);
            assertThat(volume.getConfigMap()).as("%s: policy %s comes from a ConfigMap", where, policy).isNotNull();
            assertThat(inPod(root, policy)).as("%s: policy %s: the ConfigMap %s has that key", where, policy,
                    volume.getConfigMap().getName()).isRegularFile();
            // The policy the gateway would load: valid by the policy loader's rules (it throws with file:line otherwise).
            assertThat(dev.portcullis.policy.PolicyLoader.load(inPod(root, policy)).policy().rules())
                    .as("%s: policy %s has rules", where, policy).isNotEmpty();
        }

        // Security context: non-root, read-only root filesystem, no privilege escalation; /tmp writable.
        assertThat(effective(gateway, pod, SecurityContext::getRunAsNonRoot, PodSecurityContext::getRunAsNonRoot))
                .as("%s: runAsNonRoot", where).isTrue();
        Long uid = effective(gateway, pod, SecurityContext::getRunAsUser, PodSecurityContext::getRunAsUser);
        assertThat(uid).as("%s: runAsUser numeric, not root", where).isNotNull().isPositive();
        SecurityContext sc = gateway.getSecurityContext();
        assertThat(sc).as("%s: container securityContext", where).isNotNull();
        assertThat(sc.getReadOnlyRootFilesystem()).as("%s: readOnlyRootFilesystem", where).isTrue();
        assertThat(sc.getAllowPrivilegeEscalation()).as("%s: allowPrivilegeEscalation", where).isFalse();
        assertThat(sc.getCapabilities() == null ? List.of() : sc.getCapabilities().getDrop())
                .as("%s: capabilities drop ALL", where).contains("ALL");
        assertThat(sc.getPrivileged()).as("%s: privileged", where).isNotEqualTo(Boolean.TRUE);
        VolumeMount tmp = mounts.get("/tmp");
        assertThat(tmp).as("%s: a writable /tmp for the JVM", where).isNotNull();
        assertThat(volume(pod, tmp.getName(), where).getEmptyDir()).as("%s: /tmp is an emptyDir", where).isNotNull();
        assertThat(pod.getAutomountServiceAccountToken()).as("%s: automountServiceAccountToken", where).isFalse();
        assertThat(pod.getHostNetwork()).as("%s: hostNetwork", where).isNotEqualTo(Boolean.TRUE);

        // Client credentials for upstream auth: a Secret mounted read-only (not referenced yet).
        VolumeMount client = mounts.get("/var/run/secrets/portcullis");
        assertThat(client).as("%s: the client-credentials Secret is mounted at /var/run/secrets/portcullis", where).isNotNull();
        assertThat(volume(pod, client.getName(), where).getSecret()).as("%s: client credentials come from a Secret", where).isNotNull();

        // Sessions (issue 14): every replica seals session ids with one key from a Secret, so a session
        // started on one pod continues on another; without it, a request on another replica is a 404.
        assertThat(config.sessions().keyFile()).as("%s: sessions.key-file (shared by every replica)", where).isNotNull();
        String keyFile = podPath(config.sessions().keyFile(), root);
        VolumeMount sessions = mountHolding(mounts, keyFile);
        assertThat(sessions).as("%s: sessions.key-file %s is inside a mount", where, keyFile).isNotNull();
        assertThat(volume(pod, sessions.getName(), where).getSecret()).as("%s: the session key comes from a Secret", where).isNotNull();
        assertThat(volume(pod, sessions.getName(), where).getSecret().getOptional())
                .as("%s: the session key Secret is required (a pod with its own key breaks sessions)", where).isNotEqualTo(Boolean.TRUE);

        checkProbe(gateway.getStartupProbe(), "startupProbe", "/healthz", gateway, adminPort, where);
        String account = pod.getServiceAccountName();
        if (account != null && !account.equals("default")) {
            assertThat(bundle.all(ServiceAccount.class)).as("%s: ServiceAccount %s", where, account)
                    .anyMatch(a -> a.getMetadata().getName().equals(account));
        }
        checkOptionalObjects(bundle, deployment, gateway, config, listenPort, source);

        // Shutdown: the kubelet waits for preStop + shutdown-grace + closing.
        long grace = config.listen().shutdownGrace().toSeconds();
        long preStop = preStopSleep(gateway);
        long drain = preStop + grace;
        assertThat(pod.getTerminationGracePeriodSeconds()).as(
                "%s: terminationGracePeriodSeconds must cover preStop %ds + listen.shutdown-grace %ds + %ds closing", where, preStop,
                grace, CLOSE_SECONDS).isNotNull().isGreaterThanOrEqualTo(drain + CLOSE_SECONDS);

        // Memory: the JVM is told how much heap to take, and heap + direct memory fit in the limit.
        checkJvmMemory(gateway, where);

        // The Service: the gateway port only.
        List<Service> services = bundle.all(Service.class);
        assertThat(services).as("%s: a Service", source).isNotEmpty();
        for (Service service : services) {
            String s = source + ": Service " + service.getMetadata().getName();
            assertThat(selects(service.getSpec().getSelector(), podLabels)).as("%s selects the gateway pods", s).isTrue();
            assertThat(service.getSpec().getPorts()).as("%s has ports", s).isNotEmpty();
            if (service.getMetadata().getLabels() != null && service.getMetadata().getLabels().containsKey(METRICS_SERVICE_LABEL)) {
                checkMetricsService(bundle, service, gateway, adminPort, s);
                continue;
            }
            for (ServicePort port : service.getSpec().getPorts()) {
                IntOrString target = port.getTargetPort() != null ? port.getTargetPort() : new IntOrString(port.getPort());
                assertThat(resolvePort(target, gateway, where)).as("%s port %s targets listen.port %d (never admin, never the MCP server)",
                        s, port.getName(), listenPort).isEqualTo(listenPort);
            }
        }

        checkPodDisruptionBudget(bundle, deployment, podLabels, source);
        checkNetworkPolicy(bundle, ns, podLabels, gateway, listenPort, adminPort, source);

        List<Container> others = pod.getContainers().stream().filter(c -> c != gateway).toList();
        if (expect.mode() == Mode.SIDECAR) {
            assertThat(others).as("%s: the MCP server container beside Portcullis", where).hasSize(1);
            Container mcp = others.get(0);
            assertThat(mcp.getPorts()).as("%s: the MCP server declares no ports (loopback only)", where).isEmpty();
            for (RouteConfig route : config.routes()) {
                assertThat(route.upstreamUri().getHost()).as("%s: route %s reaches the MCP server on loopback", where, route.name())
                        .isIn("127.0.0.1", "localhost", "[::1]");
                assertThat(route.upstreamUri().getPort()).as("%s: route %s upstream port is not a gateway port", where, route.name())
                        .isNotIn(listenPort, adminPort);
            }
            long mcpPreStop = preStopSleep(mcp);
            assertThat(mcpPreStop).as("%s: the MCP server's preStop sleep outlasts Portcullis' drain (preStop %ds + grace %ds)", where,
                    preStop, grace).isGreaterThanOrEqualTo(drain);
            assertThat(pod.getTerminationGracePeriodSeconds()).as("%s: terminationGracePeriodSeconds covers the MCP server's preStop", where)
                    .isGreaterThan(mcpPreStop);
        } else {
            assertThat(others).as("%s: standalone: Portcullis alone in its pod", where).isEmpty();
            for (RouteConfig route : config.routes()) {
                String host = route.upstreamUri().getHost();
                assertThat(host).as("%s: route %s upstream is a Service in the cluster", where, route.name())
                        .matches("[a-z0-9-]+\\.[a-z0-9-]+\\.svc(\\.cluster\\.local)?");
                if (expect.upstreamLockdown()) {
                    checkUpstreamLockdown(bundle, host.split("\\.")[1], ns, podLabels, route.name(), source);
                }
            }
        }
        return config;
    }

    private static void checkProbe(Probe probe, String kind, String path, Container gateway, int adminPort, String where) {
        assertThat(probe).as("%s: %s", where, kind).isNotNull();
        HTTPGetAction get = probe.getHttpGet();
        assertThat(get).as("%s: %s is an HTTP GET", where, kind).isNotNull();
        assertThat(get.getPath()).as("%s: %s path", where, kind).isEqualTo(path);
        assertThat(resolvePort(get.getPort(), gateway, where)).as("%s: %s on the admin port %d", where, kind, adminPort).isEqualTo(adminPort);
        assertThat(get.getScheme() == null || get.getScheme().equals("HTTP")).as("%s: %s scheme HTTP (the admin port has no TLS)", where, kind)
                .isTrue();
    }

    private static void checkJvmMemory(Container gateway, String where) {
        String options = gateway.getEnv().stream().filter(e -> e.getName().equals("JAVA_TOOL_OPTIONS")).map(EnvVar::getValue)
                .findFirst().orElse(null);
        assertThat(options).as("%s: JAVA_TOOL_OPTIONS", where).isNotNull();
        Matcher percent = Pattern.compile("-XX:MaxRAMPercentage=(\\d+(?:\\.\\d+)?)").matcher(options);
        assertThat(percent.find()).as("%s: JAVA_TOOL_OPTIONS sets -XX:MaxRAMPercentage", where).isTrue();
        assertThat(gateway.getResources()).as("%s: resources", where).isNotNull();
        Quantity limit = gateway.getResources().getLimits().get("memory");
        Quantity request = gateway.getResources().getRequests().get("memory");
        assertThat(limit).as("%s: a memory limit (MaxRAMPercentage is a share of it)", where).isNotNull();
        assertThat(request).as("%s: a memory request", where).isNotNull();
        assertThat(gateway.getResources().getRequests().get("cpu")).as("%s: a CPU request", where).isNotNull();
        BigDecimal limitBytes = Quantity.getAmountInBytes(limit);
        assertThat(Quantity.getAmountInBytes(request)).as("%s: memory request = limit (the heap is sized from the limit)", where)
                .isEqualByComparingTo(limitBytes);
        BigDecimal heap = limitBytes.multiply(new BigDecimal(percent.group(1))).divide(BigDecimal.valueOf(100));
        Matcher direct = Pattern.compile("-XX:MaxDirectMemorySize=(\\d+)([kKmMgG]?)").matcher(options);
        BigDecimal directBytes = heap; // the JVM's default: as much direct memory as heap
        if (direct.find()) {
            long unit = switch (direct.group(2).toLowerCase()) {
                case "k" -> 1L << 10;
                case "m" -> 1L << 20;
                case "g" -> 1L << 30;
                default -> 1;
            };
            directBytes = BigDecimal.valueOf(Long.parseLong(direct.group(1)) * unit);
        }
        assertThat(heap.add(directBytes)).as("%s: heap (%s%% of the memory limit) + direct memory stay under the memory limit %s", where,
                percent.group(1), limit).isLessThan(limitBytes);
    }

    private static void checkPodDisruptionBudget(Bundle bundle, Deployment deployment, Map<String, String> podLabels, String source) {
        List<PodDisruptionBudget> pdbs = bundle.all(PodDisruptionBudget.class).stream()
                .filter(p -> selects(p.getSpec().getSelector(), podLabels)).toList();
        assertThat(pdbs).as("%s: a PodDisruptionBudget selects the gateway pods", source).hasSize(1);
        PodDisruptionBudget pdb = pdbs.get(0);
        // With an HPA the Deployment leaves replicas out and the HPA's minimum is the floor.
        int replicas = deployment.getSpec().getReplicas() != null ? deployment.getSpec().getReplicas()
                : bundle.all(HorizontalPodAutoscaler.class).stream().map(h -> h.getSpec().getMinReplicas()).findFirst().orElse(1);
        assertThat(replicas).as("%s: replicas (one pod cannot be both disrupted and available)", source).isGreaterThan(1);
        IntOrString max = pdb.getSpec().getMaxUnavailable();
        IntOrString min = pdb.getSpec().getMinAvailable();
        assertThat(max == null ^ min == null).as("%s: PodDisruptionBudget sets one of maxUnavailable, minAvailable", source).isTrue();
        if (max != null) {
            assertThat(max.getIntVal()).as("%s: PodDisruptionBudget maxUnavailable lets a drain proceed", source).isNotNull().isPositive();
        } else {
            assertThat(min.getIntVal()).as("%s: PodDisruptionBudget minAvailable below replicas lets a drain proceed", source)
                    .isNotNull().isLessThan(replicas).isPositive();
        }
    }

    private static void checkNetworkPolicy(Bundle bundle, String ns, Map<String, String> podLabels, Container gateway, int listenPort,
                                           int adminPort, String source) {
        List<NetworkPolicy> policies = bundle.all(NetworkPolicy.class).stream()
                .filter(p -> Objects.equals(bundle.namespaceOf(p), ns) && selects(p.getSpec().getPodSelector(), podLabels)).toList();
        assertThat(policies).as("%s: a NetworkPolicy selects the gateway pods", source).isNotEmpty();
        boolean listenAllowed = false;
        for (NetworkPolicy policy : policies) {
            String p = source + ": NetworkPolicy " + policy.getMetadata().getName();
            assertThat(policy.getSpec().getPolicyTypes()).as("%s policyTypes", p).contains("Ingress");
            for (NetworkPolicyIngressRule rule : policy.getSpec().getIngress()) {
                assertThat(rule.getPorts()).as("%s: every rule names its ports (none means all, admin included)", p).isNotEmpty();
                assertThat(rule.getFrom()).as("%s: every rule names its sources (none means everyone)", p).isNotEmpty();
                for (NetworkPolicyPort port : rule.getPorts()) {
                    assertThat(port.getEndPort()).as("%s: no port ranges", p).isNull();
                    int number = resolvePort(port.getPort(), gateway, p);
                    if (number == adminPort && bundle.objects.stream().anyMatch(o -> "ServiceMonitor".equals(o.getKind()))) {
                        continue; // Prometheus, for the ServiceMonitor's scrape (checkMetricsService)
                    }
                    assertThat(number).as("%s: only listen.port %d is opened; the admin port %d and the MCP server stay closed", p,
                            listenPort, adminPort).isEqualTo(listenPort);
                    listenAllowed = true;
                }
                for (NetworkPolicyPeer peer : rule.getFrom()) {
                    if (peer.getIpBlock() != null) {
                        assertThat(peer.getIpBlock().getCidr()).as("%s: no ipBlock for the whole internet", p).isNotIn("0.0.0.0/0", "::/0");
                    } else {
                        LabelSelector namespaces = peer.getNamespaceSelector();
                        assertThat(namespaces == null || !isEmpty(namespaces))
                                .as("%s: a namespaceSelector names the allowed namespaces ({} is every namespace)", p).isTrue();
                    }
                }
            }
        }
        assertThat(listenAllowed).as("%s: the NetworkPolicy lets clients reach listen.port", source).isTrue();
    }

    /** In the upstream's namespace, a NetworkPolicy admits nothing but the gateway pods. */
    private static void checkUpstreamLockdown(Bundle bundle, String upstreamNs, String gatewayNs, Map<String, String> gatewayLabels,
                                              String route, String source) {
        List<NetworkPolicy> policies = bundle.all(NetworkPolicy.class).stream()
                .filter(p -> upstreamNs.equals(p.getMetadata().getNamespace())).toList();
        assertThat(policies).as("%s: route %s: a NetworkPolicy in namespace %s protects the MCP servers", source, route, upstreamNs)
                .isNotEmpty();
        for (NetworkPolicy policy : policies) {
            String p = source + ": NetworkPolicy " + upstreamNs + "/" + policy.getMetadata().getName();
            assertThat(policy.getSpec().getPolicyTypes()).as("%s policyTypes", p).contains("Ingress");
            assertThat(isEmpty(policy.getSpec().getPodSelector())).as("%s selects the protected pods by label", p).isFalse();
            assertThat(policy.getSpec().getIngress()).as("%s has rules", p).isNotEmpty();
            for (NetworkPolicyIngressRule rule : policy.getSpec().getIngress()) {
                assertThat(rule.getFrom()).as("%s: every rule names its sources", p).isNotEmpty();
                for (NetworkPolicyPeer peer : rule.getFrom()) {
                    assertThat(peer.getIpBlock()).as("%s: no ipBlock", p).isNull();
                    assertThat(peer.getPodSelector() != null && !isEmpty(peer.getPodSelector())
                            && selects(peer.getPodSelector(), gatewayLabels))
                            .as("%s: admits the gateway pods only (podSelector)", p).isTrue();
                    assertThat(peer.getNamespaceSelector() != null
                            && peer.getNamespaceSelector().getMatchExpressions().isEmpty()
                            && Map.of("kubernetes.io/metadata.name", gatewayNs).equals(peer.getNamespaceSelector().getMatchLabels()))
                            .as("%s: from namespace %s only (the gateway's, in namespace mcp-servers' policy)", p, gatewayNs).isTrue();
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Mounts and the pod's file system

    /** Mount paths are absolute and unique; nothing is mounted inside a ConfigMap or Secret volume. */
    private static Map<String, VolumeMount> checkMounts(Container container, PodSpec pod, String where) {
        Map<String, VolumeMount> mounts = new LinkedHashMap<>();
        for (VolumeMount m : container.getVolumeMounts()) {
            assertThat(m.getMountPath()).as("%s: mountPath", where).startsWith("/");
            assertThat(mounts.put(m.getMountPath(), m)).as("%s: mountPath %s used once", where, m.getMountPath()).isNull();
            Volume v = volume(pod, m.getName(), where);
            if (v.getConfigMap() != null || v.getSecret() != null) {
                assertThat(m.getReadOnly()).as("%s: %s is mounted readOnly", where, m.getMountPath()).isTrue();
            }
        }
        for (VolumeMount outer : mounts.values()) {
            Volume v = volume(pod, outer.getName(), where);
            if (outer.getSubPath() == null && (v.getConfigMap() != null || v.getSecret() != null)) {
                for (String path : mounts.keySet()) {
                    assertThat(path.startsWith(outer.getMountPath() + "/"))
                            .as("%s: %s is mounted inside the read-only volume at %s", where, path, outer.getMountPath()).isFalse();
                }
            }
        }
        return mounts;
    }

    /** Writes the files the pod would see under {@code root}: ConfigMap and Secret keys, empty dirs. */
    /** The metrics Service reaches the admin port only, for the ServiceMonitor, and the NetworkPolicy admits Prometheus. */
    private static void checkMetricsService(Bundle bundle, Service service, Container gateway, int adminPort, String s) {
        for (ServicePort port : service.getSpec().getPorts()) {
            IntOrString target = port.getTargetPort() != null ? port.getTargetPort() : new IntOrString(port.getPort());
            assertThat(resolvePort(target, gateway, s)).as("%s: the metrics Service targets admin.port only", s).isEqualTo(adminPort);
        }
        List<GenericKubernetesResource> monitors = bundle.objects.stream().filter(o -> "ServiceMonitor".equals(o.getKind()))
                .map(GenericKubernetesResource.class::cast).toList();
        assertThat(monitors).as("%s exists for a ServiceMonitor", s).hasSize(1);
        Map<String, Object> spec = map(monitors.get(0).getAdditionalProperties().get("spec"));
        Map<String, String> selector = stringMap(map(spec.get("selector")).get("matchLabels"));
        assertThat(service.getMetadata().getLabels()).as("%s: the ServiceMonitor selects it", s).containsAllEntriesOf(selector);
        List<?> endpoints = (List<?>) spec.get("endpoints");
        assertThat(endpoints).as("%s: ServiceMonitor endpoints", s).hasSize(1);
        assertThat(map(endpoints.get(0))).as("%s: scraped on the admin port's /metrics", s)
                .containsEntry("port", service.getSpec().getPorts().get(0).getName()).containsEntry("path", "/metrics");
        List<NetworkPolicy> policies = bundle.all(NetworkPolicy.class);
        if (!policies.isEmpty()) {
            assertThat(policies.stream().flatMap(p -> p.getSpec().getIngress().stream())
                    .flatMap(rule -> rule.getPorts() == null ? Stream.of() : rule.getPorts().stream())
                    .anyMatch(p -> p.getPort() != null && p.getPort().getIntVal() != null && p.getPort().getIntVal() == adminPort))
                    .as("%s: the NetworkPolicy lets Prometheus reach admin.port", s).isTrue();
        }
    }

    /** HPA, cert-manager Certificate, Ingress and HTTPRoute, when present, point at this gateway's objects. */
    private static void checkOptionalObjects(Bundle bundle, Deployment deployment, Container gateway, GatewayConfig config,
                                             int listenPort, String source) {
        for (HorizontalPodAutoscaler hpa : bundle.all(HorizontalPodAutoscaler.class)) {
            String h = source + ": HorizontalPodAutoscaler " + hpa.getMetadata().getName();
            assertThat(hpa.getSpec().getScaleTargetRef().getKind()).as(h).isEqualTo("Deployment");
            assertThat(hpa.getSpec().getScaleTargetRef().getName()).as("%s scales the gateway", h).isEqualTo(deployment.getMetadata().getName());
            assertThat(deployment.getSpec().getReplicas()).as("%s: the Deployment leaves replicas to the HPA", h).isNull();
            assertThat(hpa.getSpec().getMinReplicas()).as("%s: at least 2 replicas (PodDisruptionBudget)", h).isGreaterThanOrEqualTo(2);
            assertThat(gateway.getResources().getRequests()).as("%s: CPU utilisation needs a CPU request", h).containsKey("cpu");
        }
        for (HasMetadata o : bundle.objects) {
            if (!"Certificate".equals(o.getKind())) continue;
            Map<String, Object> spec = map(((GenericKubernetesResource) o).getAdditionalProperties().get("spec"));
            String c = source + ": Certificate " + o.getMetadata().getName();
            assertThat(config.listen().tls()).as("%s: the listener speaks TLS", c).isNotNull();
            assertThat(deployment.getSpec().getTemplate().getSpec().getVolumes()).as("%s writes the Secret the gateway mounts", c)
                    .anyMatch(v -> v.getSecret() != null && v.getSecret().getSecretName().equals(spec.get("secretName")));
            assertThat(map(spec.get("privateKey"))).as("%s: a PKCS#8 key, which the gateway reads", c).containsEntry("encoding", "PKCS8");
            assertThat(map(spec.get("issuerRef"))).as("%s: issuerRef", c).containsKeys("name", "kind");
        }
        String mainService = bundle.all(Service.class).stream()
                .filter(sv -> sv.getMetadata().getLabels() == null || !sv.getMetadata().getLabels().containsKey(METRICS_SERVICE_LABEL))
                .map(sv -> sv.getMetadata().getName()).findFirst().orElse(null);
        for (Ingress ingress : bundle.all(Ingress.class)) {
            String i = source + ": Ingress " + ingress.getMetadata().getName();
            ingress.getSpec().getRules().forEach(rule -> rule.getHttp().getPaths().forEach(path -> {
                assertThat(path.getBackend().getService().getName()).as("%s: backend is the gateway's Service", i).isEqualTo(mainService);
            }));
        }
        for (HTTPRoute route : bundle.all(HTTPRoute.class)) {
            String r = source + ": HTTPRoute " + route.getMetadata().getName();
            assertThat(route.getSpec().getParentRefs()).as("%s: attached to a Gateway", r).isNotEmpty();
            route.getSpec().getRules().forEach(rule -> rule.getBackendRefs().forEach(ref ->
                    assertThat(ref.getName()).as("%s: backend is the gateway's Service", r).isEqualTo(mainService)));
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object value) {
        assertThat(value).as("a mapping").isInstanceOf(Map.class);
        return (Map<String, Object>) value;
    }

    private static Map<String, String> stringMap(Object value) {
        Map<String, String> out = new LinkedHashMap<>();
        map(value).forEach((k, v) -> out.put(k, String.valueOf(v)));
        return out;
    }

    /**
     * The plain manifests expect the session key Secret to be made out of band, as their comment says
     * ({@code kubectl create secret generic ...-sessions --from-literal=session.key=$(head -c 32 /dev/urandom | base64)}):
     * the operator's Secret, made here the same way.
     */
    private static List<HasMetadata> withOperatorSessionKeys(List<HasMetadata> objects, List<HasMetadata> external, Deployment deployment) {
        List<HasMetadata> out = new ArrayList<>(external);
        for (Volume v : deployment.getSpec().getTemplate().getSpec().getVolumes()) {
            if (v.getSecret() == null || !v.getSecret().getSecretName().endsWith("-sessions")) continue;
            String name = v.getSecret().getSecretName();
            boolean present = Stream.concat(objects.stream(), external.stream())
                    .anyMatch(o -> o instanceof Secret && o.getMetadata().getName().equals(name));
            if (!present) {
                byte[] key = new byte[32];
                new java.security.SecureRandom().nextBytes(key);
                out.add(parse("apiVersion: v1\nkind: Secret\nmetadata: {name: " + name + "}\ntype: Opaque\nstringData: {session.key: "
                        + java.util.Base64.getEncoder().encodeToString(key) + "}\n", "operator").get(0));
            }
        }
        return out;
    }

    private static void materialize(Path root, Container container, PodSpec pod, Bundle bundle, String where) throws IOException {
        for (VolumeMount m : container.getVolumeMounts()) {
            Volume v = volume(pod, m.getName(), where);
            Map<String, String> files = new LinkedHashMap<>();
            if (v.getConfigMap() != null) {
                ConfigMap cm = bundle.configMap(v.getConfigMap().getName(), bundle.podNamespace);
                assertThat(cm != null || Boolean.TRUE.equals(v.getConfigMap().getOptional()))
                        .as("%s: ConfigMap %s of volume %s", where, v.getConfigMap().getName(), v.getName()).isTrue();
                Map<String, String> data = cm == null || cm.getData() == null ? Map.of() : cm.getData();
                files.putAll(project(data, v.getConfigMap().getItems(), where));
            } else if (v.getSecret() != null) {
                Secret secret = bundle.secret(v.getSecret().getSecretName(), bundle.podNamespace);
                assertThat(secret != null || Boolean.TRUE.equals(v.getSecret().getOptional()))
                        .as("%s: Secret %s of volume %s", where, v.getSecret().getSecretName(), v.getName()).isTrue();
                Map<String, String> data = new LinkedHashMap<>();
                if (secret != null) {
                    if (secret.getData() != null) {
                        secret.getData().forEach((k, encoded) -> data.put(k,
                                new String(java.util.Base64.getDecoder().decode(encoded), StandardCharsets.UTF_8)));
                    }
                    if (secret.getStringData() != null) data.putAll(secret.getStringData());
                    if ("kubernetes.io/tls".equals(secret.getType())) {
                        assertThat(data).as("%s: kubernetes.io/tls Secret %s keys", where, secret.getMetadata().getName())
                                .containsKeys("tls.crt", "tls.key");
                    }
                }
                files.putAll(project(data, v.getSecret().getItems(), where));
            } else if (v.getEmptyDir() == null) {
                fail("%s: volume %s: only ConfigMap, Secret and emptyDir volumes are expected", where, v.getName());
            }
            Path target = inPod(root, m.getMountPath());
            if (m.getSubPath() != null) {
                assertThat(files).as("%s: subPath %s of volume %s", where, m.getSubPath(), v.getName()).containsKey(m.getSubPath());
                Files.createDirectories(target.getParent());
                Files.writeString(target, files.get(m.getSubPath()));
            } else {
                Files.createDirectories(target);
                for (Map.Entry<String, String> f : files.entrySet()) {
                    Path file = target.resolve(f.getKey());
                    Files.createDirectories(file.getParent());
                    Files.writeString(file, f.getValue());
                }
            }
        }
    }

    private static Map<String, String> project(Map<String, String> data, List<KeyToPath> items, String where) {
        if (items == null || items.isEmpty()) {
            return data;
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (KeyToPath item : items) {
            assertThat(data).as("%s: volume item key %s", where, item.getKey()).containsKey(item.getKey());
            out.put(item.getPath(), data.get(item.getKey()));
        }
        return out;
    }

    private static Path inPod(Path root, String absolute) {
        return root.resolve(absolute.substring(1));
    }

    private static String podPath(Path materialized, Path root) {
        assertThat(materialized).as("a file the pod provides").startsWith(root);
        return "/" + root.relativize(materialized).toString().replace('\\', '/');
    }

    private static VolumeMount mountHolding(Map<String, VolumeMount> mounts, String path) {
        return mounts.values().stream()
                .filter(m -> path.equals(m.getMountPath()) || path.startsWith(m.getMountPath() + "/"))
                .findFirst().orElse(null);
    }

    /** Absolute file paths in gateway.yaml that lie under a mount now point into the pod copy. */
    private static String toPodRoot(String yaml, Path root, Set<String> mountPaths) {
        Pattern value = Pattern.compile("^(\\s*(?:-\\s+)?[A-Za-z][\\w-]*:\\s+)(/[^\\s#]*)(.*)$");
        return yaml.lines().map(line -> {
            Matcher m = value.matcher(line);
            if (m.matches() && mountPaths.stream().anyMatch(p -> m.group(2).equals(p) || m.group(2).startsWith(p + "/"))) {
                return m.group(1) + inPod(root, m.group(2)) + m.group(3);
            }
            return line;
        }).collect(Collectors.joining("\n", "", "\n"));
    }

    private static List<String> policyPaths(String gatewayYaml, String source) throws IOException {
        List<String> out = new ArrayList<>();
        for (JsonNode route : YAML.readTree(gatewayYaml).path("routes")) {
            if (route.hasNonNull("policy")) {
                assertThat(route.get("policy").asText()).as("%s: routes[].policy is an absolute path in the pod", source).startsWith("/");
                out.add(route.get("policy").asText());
            }
        }
        return out;
    }

    // ---------------------------------------------------------------------------------------
    // Parsing and small helpers

    /** Every YAML document as its Kubernetes model class; unknown kinds and unknown fields fail. */
    static List<HasMetadata> parse(String yaml, String source) {
        List<HasMetadata> out = new ArrayList<>();
        try (MappingIterator<JsonNode> docs = YAML.readerFor(JsonNode.class).readValues(yaml)) {
            int n = 0;
            while (docs.hasNextValue()) {
                JsonNode doc = docs.nextValue();
                n++;
                if (doc == null || doc.isNull() || doc.isMissingNode() || (doc.isObject() && doc.isEmpty())) {
                    continue;
                }
                String kind = doc.path("apiVersion").asText() + "/" + doc.path("kind").asText();
                Class<? extends HasMetadata> type = KINDS.get(kind);
                assertThat(type).as("%s: document %d: %s (expected one of %s)", source, n, kind, new TreeSet<>(KINDS.keySet())).isNotNull();
                HasMetadata object = YAML.treeToValue(doc, type);
                assertThat(object.getMetadata()).as("%s: document %d: metadata", source, n).isNotNull();
                if (!(object instanceof GenericKubernetesResource)) {
                    noUnknownFields(object, source + ": " + doc.path("kind").asText() + " " + object.getMetadata().getName(),
                            java.util.Collections.newSetFromMap(new IdentityHashMap<>()));
                }
                out.add(object);
            }
        } catch (IOException e) {
            throw new AssertionError(source + ": not valid YAML: " + e.getMessage(), e);
        }
        assertThat(out).as("%s: Kubernetes objects", source).isNotEmpty();
        return out;
    }

    /**
     * The model keeps fields it does not know in {@code additionalProperties}: a misspelt field
     * ({@code readinesProbe}) would otherwise vanish silently, as it would on a lenient apply.
     */
    private static void noUnknownFields(Object value, String path, Set<Object> seen) {
        if (value == null) return;
        if (value instanceof Map<?, ?> map) {
            map.forEach((k, v) -> noUnknownFields(v, path + "." + k, seen));
            return;
        }
        if (value instanceof Collection<?> list) {
            int i = 0;
            for (Object item : list) noUnknownFields(item, path + "[" + i++ + "]", seen);
            return;
        }
        if (!value.getClass().getName().startsWith("io.fabric8.kubernetes.api.model") || !seen.add(value)) return;
        for (Class<?> c = value.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                if (Modifier.isStatic(f.getModifiers())) continue;
                f.setAccessible(true);
                Object field;
                try {
                    field = f.get(value);
                } catch (IllegalAccessException e) {
                    throw new AssertionError(e);
                }
                if (f.getName().equals("additionalProperties")) {
                    assertThat((Map<?, ?>) field).as("%s: unknown field(s)", path).isNullOrEmpty();
                } else {
                    noUnknownFields(field, path + "." + f.getName(), seen);
                }
            }
        }
    }

    private static Container gatewayContainer(PodSpec pod, String where) {
        List<Container> gateways = pod.getContainers().stream().filter(c -> c.getArgs().contains("--config")).toList();
        assertThat(gateways).as("%s: one Portcullis container (args run --config FILE)", where).hasSize(1);
        return gateways.get(0);
    }

    private static Volume volume(PodSpec pod, String name, String where) {
        return pod.getVolumes().stream().filter(v -> v.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError(where + ": volume " + name + " is mounted but not defined"));
    }

    private static int resolvePort(IntOrString port, Container container, String where) {
        assertThat(port).as("%s: a port", where).isNotNull();
        if (port.getIntVal() != null) {
            return port.getIntVal();
        }
        return container.getPorts().stream().filter(p -> port.getStrVal().equals(p.getName())).map(ContainerPort::getContainerPort)
                .findFirst().orElseThrow(() -> new AssertionError(where + ": no container port named " + port.getStrVal()));
    }

    private static long preStopSleep(Container container) {
        if (container.getLifecycle() == null || container.getLifecycle().getPreStop() == null
                || container.getLifecycle().getPreStop().getSleep() == null) {
            return 0;
        }
        return container.getLifecycle().getPreStop().getSleep().getSeconds();
    }

    private static <T> T effective(Container c, PodSpec pod, Function<SecurityContext, T> container,
                                   Function<PodSecurityContext, T> podLevel) {
        T value = c.getSecurityContext() == null ? null : container.apply(c.getSecurityContext());
        if (value == null && pod.getSecurityContext() != null) {
            value = podLevel.apply(pod.getSecurityContext());
        }
        return value;
    }

    private static boolean selects(LabelSelector selector, Map<String, String> labels) {
        return selector != null && selector.getMatchExpressions().isEmpty() && selects(selector.getMatchLabels(), labels);
    }

    private static boolean selects(Map<String, String> selector, Map<String, String> labels) {
        return selector != null && !selector.isEmpty() && labels.entrySet().containsAll(selector.entrySet());
    }

    private static boolean isEmpty(LabelSelector selector) {
        return (selector.getMatchLabels() == null || selector.getMatchLabels().isEmpty()) && selector.getMatchExpressions().isEmpty();
    }

    private static <T extends HasMetadata> List<T> all(List<HasMetadata> objects, Class<T> type) {
        return objects.stream().filter(type::isInstance).map(type::cast).toList();
    }

    private static <T extends HasMetadata> T only(List<HasMetadata> objects, Class<T> type, String source) {
        List<T> found = all(objects, type);
        assertThat(found).as("%s: one %s", source, type.getSimpleName()).hasSize(1);
        return found.get(0);
    }

    private static List<String> jsonArray(String inner) throws IOException {
        List<String> out = new ArrayList<>();
        YAML.readTree("[" + inner + "]").forEach(n -> out.add(n.asText()));
        return out;
    }

    private static Path findDeployDirectory() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isDirectory(dir.resolve("deploy/kubernetes")) && Files.isRegularFile(dir.resolve("pom.xml"))) {
                return dir.resolve("deploy");
            }
        }
        throw new IllegalStateException("deploy/ not found above " + Path.of("").toAbsolutePath());
    }

    /** The objects of one manifest set, plus objects the operator provides (the chart's TLS secret). */
    static final class Bundle {
        final List<HasMetadata> objects;
        final List<HasMetadata> external;
        final String defaultNamespace;
        final String podNamespace;

        Bundle(List<HasMetadata> objects, List<HasMetadata> external, String defaultNamespace) {
            this.objects = objects;
            this.external = external;
            this.defaultNamespace = defaultNamespace;
            this.podNamespace = objects.stream().filter(Deployment.class::isInstance).map(this::namespaceOf).findFirst()
                    .orElse(defaultNamespace);
        }

        String namespaceOf(HasMetadata o) {
            return o.getMetadata().getNamespace() != null ? o.getMetadata().getNamespace() : defaultNamespace;
        }

        <T extends HasMetadata> List<T> all(Class<T> type) {
            return DeployManifestsTest.all(objects, type);
        }

        ConfigMap configMap(String name, String ns) {
            return find(ConfigMap.class, name, ns);
        }

        Secret secret(String name, String ns) {
            return find(Secret.class, name, ns);
        }

        private <T extends HasMetadata> T find(Class<T> type, String name, String ns) {
            return Stream.concat(objects.stream(), external.stream()).filter(type::isInstance).map(type::cast)
                    .filter(o -> o.getMetadata().getName().equals(name))
                    .filter(o -> o.getMetadata().getNamespace() == null || o.getMetadata().getNamespace().equals(ns))
                    .findFirst().orElse(null);
        }
    }

}
