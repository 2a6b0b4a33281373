package dev.qig.app;

import dev.qig.server.ServiceCommands;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.qig.aggregator.AggregatorConfig;
import dev.qig.kafka.config.ConfigSources;
import dev.qig.kafka.config.ServiceConfig;
import dev.qig.kafka.topics.Topics;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * docker-compose.yml, k8s/ and the Prometheus and Dockerfile settings they rely on agree with the
 * services' typed configurations ({@link ServiceCommands.ConfigCommand#definition}): every container of
 * the project's image runs a qig service; every {@code QIG_*} variable it gets sets a key of that service
 * (the mapping of {@link ConfigSources#envKeys}, Kafka client, registry and Kafka Streams keys included)
 * with a valid value; every required key is set; ports, probes, scrape targets and annotations are the
 * service's {@code metrics.port} / {@code http.port}; every topic named is a topic of the design; the
 * aggregator's volume is its state directory; Services and references point at what exists.
 */
class DeploymentConsistencyTest {

    private static final Path ROOT = Path.of("../..");
    private static final String IMAGE = "qig-stream";
    private static final List<String> SERVICES = List.of("ingest", "attributor", "aggregator", "evaluator", "publisher");
    private static final Pattern TOPIC_NAME = Pattern.compile("\\bqig\\.[a-z0-9.-]+\\.v[0-9]+\\b");

    /** One container of the project's image: where it is declared, its qig command and environment. */
    record QigContainer(String where, String service, Map<String, String> env) {

        ConfigDef definition() {
            return ServiceCommands.ConfigCommand.definition(service);
        }

        /** The settings the service would resolve from this environment, validated by its definition. */
        Map<String, Object> parsed() {
            Map<String, String> resolved = ConfigSources.resolve(definition(),
                    ServiceCommands.ConfigCommand.passThroughKeys(service), null, env, Map.of());
            Map<String, String> own = new TreeMap<>();
            resolved.forEach((k, v) -> {
                if (definition().names().contains(k)) {
                    own.put(k, v);
                }
            });
            try {
                return definition().parse(own);
            } catch (ConfigException e) {
                throw new AssertionError(where + ": " + e.getMessage(), e);
            }
        }

        int metricsPort() {
            return (Integer) parsed().get(ServiceConfig.METRICS_PORT);
        }

        Integer httpPort() {
            return (Integer) parsed().get(AggregatorConfig.HTTP_PORT);
        }
    }

    // ---- docker-compose.yml ----

    @Test
    void composeRunsEveryServiceWithKnownValidAndCompleteSettings() throws IOException {
        Map<String, Object> compose = map(load(ROOT.resolve("docker-compose.yml")).get(0));
        Map<String, Object> services = map(compose.get("services"));
        List<QigContainer> qig = new ArrayList<>();
        services.forEach((name, value) -> {
            Map<String, Object> s = map(value);
            if (!String.valueOf(s.get("image")).startsWith(IMAGE + ":")) {
                return;
            }
            List<String> command = strings(s.get("command"));
            QigContainer c = new QigContainer("docker-compose.yml " + name, command.get(0), composeEnv(s.get("environment")));
            checkEnvironment(c);
            qig.add(c);

            int metrics = c.metricsPort();
            Set<Integer> served = new TreeSet<>(List.of(metrics));
            if (c.httpPort() != null) {
                served.add(c.httpPort());
            }
            for (String port : strings(s.getOrDefault("ports", List.of()))) {
                int container = Integer.parseInt(port.substring(port.lastIndexOf(':') + 1).replace("/tcp", ""));
                assertTrue(served.contains(container), c.where() + " publishes " + port + ", but serves " + served);
            }
            if ("publisher".equals(c.service())) {
                String folder = c.env().get("QIG_STORE_FOLDER_PATH");
                assertTrue(strings(s.getOrDefault("volumes", List.of())).stream().anyMatch(v -> v.endsWith(":" + folder)),
                        c.where() + ": a volume is mounted at store.folder.path " + folder);
            }
            if (!"ingest".equals(c.service())) {
                String test = String.join(" ", strings(map(s.get("healthcheck")).get("test")));
                assertTrue(test.contains("localhost:" + metrics + "/health/ready"),
                        c.where() + ": the health check must ask /health/ready on metrics.port " + metrics + ": " + test);
            }
        });
        assertEquals(Set.copyOf(SERVICES), qig.stream().map(QigContainer::service).collect(Collectors.toSet()),
                "compose runs every service");

        // Prometheus scrapes each compose service on its metrics port.
        Map<String, Integer> targets = prometheusTargets();
        for (QigContainer c : qig) {
            String composeName = c.where().substring("docker-compose.yml ".length());
            assertEquals(c.metricsPort(), targets.get(composeName), "prometheus.yml target of " + composeName);
        }
        // Grafana gets the provisioning and the dashboards where the provider looks for them.
        List<String> grafanaVolumes = strings(map(services.get("grafana")).get("volumes"));
        assertTrue(grafanaVolumes.contains("./deploy/grafana/provisioning:/etc/grafana/provisioning:ro"), grafanaVolumes.toString());
        String provider = Files.readString(ROOT.resolve("deploy/grafana/provisioning/dashboards/qig.yml"));
        String dashboards = grafanaVolumes.stream().filter(v -> v.startsWith("./deploy/grafana/dashboards:")).findFirst()
                .orElseThrow().split(":")[1];
        assertTrue(provider.contains("path: " + dashboards), "dashboards mounted at " + dashboards + ", provider:\n" + provider);
        assertTrue(strings(map(services.get("prometheus")).get("volumes"))
                .contains("./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"));

        // Every depends_on names a service of the file.
        services.forEach((name, value) -> {
            Object deps = map(value).get("depends_on");
            if (deps != null) {
                for (String d : map(deps).keySet()) {
                    assertTrue(services.containsKey(d), name + " depends on unknown " + d);
                }
            }
        });
        // The attributors can all get a partition of the samples topic.
        for (QigContainer c : qig) {
            assertTrue((Integer) c.parsed().get(ServiceConfig.TOPICS_PARTITIONS) >= 1);
        }
        checkTopicNames(compose, "docker-compose.yml");
    }

    /**
     * docker-compose.external.yml over docker-compose.yml, with qig-external.env.example as the env file
     * (both --env-file and env_file), merged as Compose does: every qig service still gets known, valid
     * and complete settings, now pointing at the example's cluster; none waits for the bundled broker
     * or registry; the override names only services of the base file.
     */
    @Test
    void theExternalOverrideRunsTheServicesAgainstAnotherClusterWithValidSettings() throws IOException {
        Map<String, Object> base = map(map(load(ROOT.resolve("docker-compose.yml")).get(0)).get("services"));
        Map<String, Object> override = map(map(loadCompose(ROOT.resolve("docker-compose.external.yml"))).get("services"));
        Map<String, String> envFile = dotEnv(ROOT.resolve("qig-external.env.example"));
        assertTrue(envFile.containsKey("QIG_SECURITY_PROTOCOL"), "the example shows the security settings");
        assertEquals(new TreeSet<>(SERVICES), new TreeSet<>(override.keySet()), "the override covers the qig services only");
        for (String name : SERVICES) {
            Map<String, Object> s = new LinkedHashMap<>(map(base.get(name)));
            Map<String, Object> o = map(override.get(name));
            // Compose: env_file values first, then environment (base, then override) wins.
            assertEquals(List.of("qig-external.env"), strings(o.get("env_file")), name);
            Map<String, String> env = new LinkedHashMap<>(envFile);
            env.putAll(composeEnv(s.get("environment")));
            composeEnv(o.get("environment")).forEach((k, v) -> env.put(k, interpolate(v, envFile)));
            QigContainer c = new QigContainer("docker-compose.external.yml " + name, strings(s.get("command")).get(0), env);
            checkEnvironment(c);
            assertEquals(envFile.get("QIG_BOOTSTRAP_SERVERS"), env.get("QIG_BOOTSTRAP_SERVERS"), name);
            assertEquals(envFile.get("QIG_SCHEMA_REGISTRY_URL"), env.get("QIG_SCHEMA_REGISTRY_URL"), name);
            assertEquals(3, ((Number) c.parsed().get(ServiceConfig.TOPICS_REPLICATION_FACTOR)).intValue(), name);

            Object deps = o.get("depends_on");
            Set<String> after = deps == RESET ? Set.of() : deps instanceof OverrideTag ov ? ov.value().keySet()
                    : map(s.get("depends_on")).keySet();
            assertFalse(after.contains("kafka") || after.contains("registry"), name + " still waits for the bundled " + after);
            assertTrue(SERVICES.containsAll(after), name + " depends on " + after);
        }
    }

    /** Compose's merge tags in an override file: {@code !reset} removes a value, {@code !override} replaces it. */
    private static final Object RESET = new Object();

    private record OverrideTag(Map<String, Object> value) {}

    private static Object loadCompose(Path file) throws IOException {
        SafeConstructor constructor = new SafeConstructor(new LoaderOptions()) {
            {
                yamlConstructors.put(new org.yaml.snakeyaml.nodes.Tag("!reset"), new org.yaml.snakeyaml.constructor.AbstractConstruct() {
                    @Override
                    public Object construct(org.yaml.snakeyaml.nodes.Node node) {
                        return RESET;
                    }
                });
                org.yaml.snakeyaml.constructor.Construct mapping = yamlConstructors.get(org.yaml.snakeyaml.nodes.Tag.MAP);
                yamlConstructors.put(new org.yaml.snakeyaml.nodes.Tag("!override"), new org.yaml.snakeyaml.constructor.AbstractConstruct() {
                    @Override
                    public Object construct(org.yaml.snakeyaml.nodes.Node node) {
                        return new OverrideTag(map(mapping.construct(node)));
                    }
                });
            }
        };
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            return new Yaml(constructor).load(r);
        }
    }

    /** A dotenv file as Compose reads it: KEY=VALUE lines, # comments. */
    private static Map<String, String> dotEnv(Path file) throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            String l = line.trim();
            if (!l.isEmpty() && !l.startsWith("#")) {
                int eq = l.indexOf('=');
                assertTrue(eq > 0, file + ": not KEY=VALUE: " + line);
                out.put(l.substring(0, eq), l.substring(eq + 1));
            }
        }
        return out;
    }

    /** Compose's interpolation of one value: ${VAR}, ${VAR:-default}, ${VAR:?error} (an error when unset). */
    private static String interpolate(String value, Map<String, String> vars) {
        Matcher m = Pattern.compile("\\$\\{([A-Z0-9_]+)(?:(:-|:\\?)([^}]*))?}").matcher(value);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String v = vars.get(m.group(1));
            if (v == null || v.isEmpty()) {
                assertFalse(":?".equals(m.group(2)), "unset " + m.group(1) + ": " + m.group(3));
                v = ":-".equals(m.group(2)) ? m.group(3) : "";
            }
            m.appendReplacement(out, Matcher.quoteReplacement(v));
        }
        m.appendTail(out);
        return out.toString();
    }

    // ---- k8s/ ----

    /**
     * Every kustomization under k8s/ builds, with {@code kubectl kustomize} or {@code kustomize build}
     * where either is installed (Debian's kubectl bundles kustomize); skipped where neither is. An
     * overlay inside its base's folder does not (kustomize: "cycle detected").
     */
    @Test
    void everyKustomizationBuildsWhereKubectlOrKustomizeIsInstalled() throws Exception {
        List<String> tool = onPath("kubectl") ? List.of("kubectl", "kustomize")
                : onPath("kustomize") ? List.of("kustomize", "build") : null;
        org.junit.jupiter.api.Assumptions.assumeTrue(tool != null, "neither kubectl nor kustomize is installed");
        List<Path> roots;
        try (Stream<Path> s = Files.walk(ROOT.resolve("k8s"))) {
            roots = s.filter(p -> p.getFileName().toString().equals("kustomization.yaml")).map(Path::getParent).sorted().toList();
        }
        assertEquals(List.of(ROOT.resolve("k8s/base"), ROOT.resolve("k8s/overlays/demo")), roots);
        Map<Path, List<String>> objects = new TreeMap<>();
        for (Path root : roots) {
            List<String> command = new ArrayList<>(tool);
            command.add(root.toString());
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            assertTrue(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS), String.join(" ", command));
            assertEquals(0, p.exitValue(), String.join(" ", command) + ":\n" + out);
            List<String> built = new ArrayList<>();
            for (Object d : new Yaml(new SafeConstructor(new LoaderOptions())).loadAll(out)) {
                Map<String, Object> doc = map(d);
                built.add(doc.get("kind") + " " + map(doc.get("metadata")).get("name"));
            }
            objects.put(root, built);
        }
        List<String> base = objects.get(ROOT.resolve("k8s/base"));
        List<String> demo = new ArrayList<>(objects.get(ROOT.resolve("k8s/overlays/demo")));
        assertTrue(base.contains("Job qig-topics") && base.contains("StatefulSet qig-aggregator"), base.toString());
        demo.removeAll(base);
        assertEquals(List.of("ConfigMap qig-ingest", "Job qig-ingest"), demo.stream().sorted().toList(),
                "the demo overlay: the base and the ingest Job");
    }

    private static boolean onPath(String command) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, command))) {
                return true;
            }
        }
        return false;
    }

    @Test
    void kubernetesManifestsRunEveryServiceWithKnownValidAndCompleteSettings() throws IOException {
        Path dir = ROOT.resolve("k8s");
        Map<String, Object> kustomization = map(load(dir.resolve("base/kustomization.yaml")).get(0));
        Set<String> listed = new TreeSet<>(strings(kustomization.get("resources")));
        Set<String> files;
        try (Stream<Path> s = Files.list(dir.resolve("base"))) {
            files = s.map(p -> p.getFileName().toString()).filter(f -> f.endsWith(".yaml") && !f.equals("kustomization.yaml"))
                    .collect(Collectors.toCollection(TreeSet::new));
        }
        assertEquals(files, listed, "kustomization.yaml lists every manifest of k8s/base");

        List<Map<String, Object>> docs = new ArrayList<>();
        for (String f : files) {
            docs.addAll(documents(dir, "base/" + f));
        }
        // The demo overlay (k8s/overlays/demo): the base, its own resources, ConfigMap patches, the base's image.
        Map<String, Object> demo = map(load(dir.resolve("overlays/demo/kustomization.yaml")).get(0));
        List<String> demoResources = strings(demo.get("resources"));
        assertTrue(demoResources.contains("../../base"), "k8s/overlays/demo builds on k8s/base");
        assertEquals(kustomization.get("images"), demo.get("images"), "the demo overlay names the image as the base does");
        Set<String> demoKinds = new TreeSet<>();
        for (String f : demoResources) {
            if (!f.equals("../../base")) {
                List<Map<String, Object>> added = documents(dir, "overlays/demo/" + f);
                added.forEach(d -> demoKinds.add(d.get("kind") + " " + map(d.get("metadata")).get("name")));
                docs.addAll(added);
            }
        }
        assertEquals(Set.of("ConfigMap qig-ingest", "Job qig-ingest"), demoKinds, "the demo overlay adds the ingest Job only");
        for (Object o : list(demo.get("patches"))) {
            for (Map<String, Object> patch : documents(dir, "overlays/demo/" + map(o).get("path"))) {
                assertEquals("ConfigMap", patch.get("kind"), "the demo overlay patches settings only");
                Map<String, Object> target = docs.stream().filter(d -> "ConfigMap".equals(d.get("kind"))
                                && map(d.get("metadata")).get("name").equals(map(patch.get("metadata")).get("name")))
                        .findFirst().orElseThrow(() -> new AssertionError("the demo overlay patches a ConfigMap the base lacks: " + patch));
                map(target.get("data")).putAll(map(patch.get("data")));
            }
        }
        try (Stream<Path> s = Files.list(dir.resolve("optional"))) {
            for (Path p : s.toList()) {
                load(p).forEach(d -> checkTopicNames(d, "k8s/optional/" + p.getFileName()));
            }
        }
        Map<String, Map<String, Object>> configMaps = new TreeMap<>();
        Map<String, Map<String, Object>> secrets = new TreeMap<>();
        for (Map<String, Object> d : docs) {
            String name = String.valueOf(map(d.get("metadata")).get("name"));
            if ("ConfigMap".equals(d.get("kind"))) {
                configMaps.put(name, map(d.get("data")));
            } else if ("Secret".equals(d.get("kind"))) {
                Map<String, Object> keys = new LinkedHashMap<>();
                keys.putAll(map(d.getOrDefault("stringData", Map.of())));
                keys.putAll(map(d.getOrDefault("data", Map.of())));
                secrets.put(name, keys);
            }
            checkTopicNames(d, "k8s/" + d.get("__file"));
        }

        List<QigContainer> qig = new ArrayList<>();
        Map<String, Map<String, Object>> podLabelsToContainer = new LinkedHashMap<>();
        Map<String, Integer> attributorReplicas = new TreeMap<>();
        for (Map<String, Object> d : docs) {
            String kind = String.valueOf(d.get("kind"));
            if (!Set.of("Deployment", "StatefulSet", "Job").contains(kind)) {
                continue;
            }
            String workload = kind + " " + map(d.get("metadata")).get("name");
            Map<String, Object> template = map(map(d.get("spec")).get("template"));
            Map<String, Object> podMeta = map(template.get("metadata"));
            Map<String, Object> pod = map(template.get("spec"));
            for (Object o : list(pod.get("containers"))) {
                Map<String, Object> container = map(o);
                assertEquals(IMAGE, container.get("image"), workload + " runs the project's image");
                List<String> args = strings(container.get("args"));
                String where = "k8s/" + d.get("__file") + " " + workload;
                QigContainer c = new QigContainer(where, args.get(0), k8sEnv(where, container, configMaps, secrets));
                checkEnvironment(c);
                qig.add(c);
                if ("attributor".equals(c.service())) {
                    attributorReplicas.put(workload, ((Number) map(d.get("spec")).get("replicas")).intValue());
                }

                Map<String, Object> resources = map(container.get("resources"));
                for (String side : List.of("requests", "limits")) {
                    assertTrue(map(resources.get(side)).keySet().containsAll(List.of("cpu", "memory")),
                            where + ": cpu and memory " + side);
                }
                Map<String, Integer> ports = new TreeMap<>();
                for (Object p : list(container.getOrDefault("ports", List.of()))) {
                    ports.put(String.valueOf(map(p).get("name")), ((Number) map(p).get("containerPort")).intValue());
                }
                if ("topics".equals(c.service())) {
                    continue; // a one-off command: no endpoint
                }
                assertEquals(c.metricsPort(), ports.get("metrics"), where + ": the metrics port is metrics.port");
                if (c.httpPort() != null) {
                    assertEquals(c.httpPort(), ports.get("http"), where + ": the http port is http.port");
                }
                assertEquals(String.valueOf(c.metricsPort()), map(podMeta.get("annotations")).get("prometheus.io/port"),
                        where + ": prometheus.io/port");
                if (!"Job".equals(kind)) {
                    checkProbe(where, container, "livenessProbe", "/health/live", ports);
                    checkProbe(where, container, "readinessProbe", "/health/ready", ports);
                }
                if ("aggregator".equals(c.service())) {
                    String stateDir = c.env().get("QIG_STATE_DIR");
                    assertNotNull(stateDir, where + ": QIG_STATE_DIR");
                    assertTrue(list(container.get("volumeMounts")).stream().map(m -> map(m))
                                    .anyMatch(m -> "state".equals(m.get("name")) && stateDir.equals(m.get("mountPath"))),
                            where + ": the state volume is mounted at state.dir " + stateDir);
                }
                if ("publisher".equals(c.service())) {
                    String folder = c.env().get("QIG_STORE_FOLDER_PATH");
                    assertNotNull(folder, where + ": QIG_STORE_FOLDER_PATH");
                    assertTrue(list(container.get("volumeMounts")).stream().map(m -> map(m))
                                    .anyMatch(m -> folder.equals(m.get("mountPath"))),
                            where + ": a volume is mounted at store.folder.path " + folder);
                }
                podLabelsToContainer.put(String.valueOf(map(podMeta.get("labels")).get("app.kubernetes.io/name")),
                        Map.of("ports", ports, "metrics", c.metricsPort()));
            }
        }
        assertEquals(new TreeSet<>(List.of("ingest", "attributor", "aggregator", "evaluator", "publisher", "topics")),
                qig.stream().map(QigContainer::service).collect(Collectors.toCollection(TreeSet::new)),
                "k8s (with the demo's ingest Job) runs every service and the topics Job");
        assertEquals(new TreeSet<>(List.of("attributor", "aggregator", "evaluator", "publisher", "topics")),
                qig.stream().filter(c -> !c.where().startsWith("k8s/overlays/demo/")).map(QigContainer::service)
                        .collect(Collectors.toCollection(TreeSet::new)),
                "k8s/ itself runs the services and the topics Job, and writes no samples");

        // The topics Job creates the samples topic with at least as many partitions as there are attributors.
        QigContainer topics = qig.stream().filter(c -> c.service().equals("topics")).findFirst().orElseThrow();
        int partitions = (Integer) topics.parsed().get(ServiceConfig.TOPICS_PARTITIONS);
        attributorReplicas.forEach((w, n) -> assertTrue(n <= partitions, w + ": " + n + " replicas > " + partitions + " partitions"));
        // The services do not create topics: the Job does.
        for (QigContainer c : qig) {
            if (!c.service().equals("topics")) {
                assertEquals(Boolean.FALSE, c.parsed().get(ServiceConfig.TOPICS_CREATE), c.where() + ": topics.create");
            }
        }

        // Services select a workload and expose its ports by name, on the same numbers.
        for (Map<String, Object> d : docs) {
            if (!"Service".equals(d.get("kind"))) {
                continue;
            }
            String where = "k8s/" + d.get("__file") + " Service " + map(d.get("metadata")).get("name");
            Map<String, Object> spec = map(d.get("spec"));
            Map<String, Object> target = podLabelsToContainer.get(String.valueOf(map(spec.get("selector")).get("app.kubernetes.io/name")));
            assertNotNull(target, where + " selects no workload");
            @SuppressWarnings("unchecked")
            Map<String, Integer> ports = (Map<String, Integer>) target.get("ports");
            for (Object o : list(spec.get("ports"))) {
                Map<String, Object> p = map(o);
                Integer containerPort = ports.get(String.valueOf(p.get("targetPort")));
                assertNotNull(containerPort, where + ": no container port named " + p.get("targetPort"));
                assertEquals(containerPort, ((Number) p.get("port")).intValue(), where + ": port " + p.get("name"));
            }
            Object annotation = map(map(d.get("metadata")).getOrDefault("annotations", Map.of())).get("prometheus.io/port");
            if (annotation != null) {
                assertEquals(String.valueOf(target.get("metrics")), annotation, where + ": prometheus.io/port");
            }
        }
    }

    /**
     * The build stage copies the pom of every module the reactor lists (Maven loads them all, even
     * with {@code -pl}), none of it is excluded by .dockerignore, and it builds the app as `./qig` does.
     * (The image build itself runs only where Docker does: ComposeStackTest.)
     */
    @Test
    void theImageBuildStageHasEveryModuleTheReactorNames() throws IOException {
        String dockerfile = Files.readString(ROOT.resolve("Dockerfile"), StandardCharsets.UTF_8);
        String buildStage = dockerfile.substring(0, dockerfile.indexOf("\nFROM ", dockerfile.indexOf("AS build")));
        List<String> copied = new ArrayList<>();
        Matcher copy = Pattern.compile("(?m)^COPY (?!--from)(\\S+) (\\S+)$").matcher(buildStage);
        while (copy.find()) {
            copied.add(copy.group(1));
        }
        assertFalse(copied.isEmpty(), "COPY lines in the build stage");
        List<String> ignored = Files.readAllLines(ROOT.resolve(".dockerignore"), StandardCharsets.UTF_8).stream()
                .map(String::trim).filter(l -> !l.isEmpty() && !l.startsWith("#"))
                .map(l -> l.replaceAll("^/|/$", "")).toList();
        for (String src : copied) {
            for (String ignore : ignored) {
                assertFalse(src.equals(ignore) || src.startsWith(ignore + "/"),
                        "the Dockerfile copies " + src + ", which .dockerignore leaves out (" + ignore + ")");
            }
        }
        List<String> modules = new ArrayList<>();
        Matcher module = Pattern.compile("<module>([^<]+)</module>").matcher(
                Files.readString(ROOT.resolve("pom.xml"), StandardCharsets.UTF_8));
        while (module.find()) {
            modules.add(module.group(1));
        }
        assertTrue(modules.size() > 5, "the root pom's modules: " + modules);
        for (String m : modules) {
            String pom = m + "/pom.xml";
            assertTrue(Files.exists(ROOT.resolve(pom)), pom);
            assertTrue(copied.stream().anyMatch(src -> pom.equals(src) || pom.startsWith(src + "/")),
                    "the build stage does not copy " + pom + ": the reactor would stop at it; COPY lines: " + copied);
        }
        assertTrue(buildStage.contains("-pl services/server -am package"), "the build stage builds the service jar and what it needs");
    }

    @Test
    void theImageExposesEveryServicePort() throws IOException {
        String dockerfile = Files.readString(ROOT.resolve("Dockerfile"), StandardCharsets.UTF_8);
        Matcher m = Pattern.compile("(?m)^EXPOSE (.+)$").matcher(dockerfile);
        assertTrue(m.find(), "EXPOSE in the Dockerfile");
        Set<Integer> exposed = Stream.of(m.group(1).trim().split("\\s+")).map(Integer::parseInt).collect(Collectors.toSet());
        for (String service : SERVICES) {
            ConfigDef def = ServiceCommands.ConfigCommand.definition(service);
            assertTrue(exposed.contains((Integer) def.configKeys().get(ServiceConfig.METRICS_PORT).defaultValue), service);
            if (def.names().contains(AggregatorConfig.HTTP_PORT)) {
                assertTrue(exposed.contains((Integer) def.configKeys().get(AggregatorConfig.HTTP_PORT).defaultValue), service);
            }
        }
        assertTrue(dockerfile.contains("ENTRYPOINT [\"java\", \"-jar\""), "the jar is the entry point");
        assertTrue(dockerfile.contains("QIG_STATE_DIR="), "the image names the aggregator's state directory");
    }

    /**
     * Every manifest of k8s/ and k8s/demo (patches included) read into Kubernetes' own API types
     * (fabric8's model of core/v1, apps/v1, batch/v1): the apiVersion fits the kind, no field is
     * unknown at any depth (a misspelt or misplaced field lands in a type's additional properties),
     * and every resource quantity parses. What only a cluster can say (admission, scheduling) is
     * not checked.
     */
    @Test
    void kubernetesManifestsAreValidObjectsOfTheirKinds() throws IOException {
        Map<String, Map.Entry<String, Class<?>>> kinds = Map.of(
                "Namespace", Map.entry("v1", io.fabric8.kubernetes.api.model.Namespace.class),
                "ConfigMap", Map.entry("v1", io.fabric8.kubernetes.api.model.ConfigMap.class),
                "Secret", Map.entry("v1", io.fabric8.kubernetes.api.model.Secret.class),
                "Service", Map.entry("v1", io.fabric8.kubernetes.api.model.Service.class),
                "PersistentVolumeClaim", Map.entry("v1", io.fabric8.kubernetes.api.model.PersistentVolumeClaim.class),
                "Deployment", Map.entry("apps/v1", io.fabric8.kubernetes.api.model.apps.Deployment.class),
                "StatefulSet", Map.entry("apps/v1", io.fabric8.kubernetes.api.model.apps.StatefulSet.class),
                "Job", Map.entry("batch/v1", io.fabric8.kubernetes.api.model.batch.v1.Job.class));
        Path dir = ROOT.resolve("k8s");
        List<String> files = new ArrayList<>();
        strings(map(load(dir.resolve("base/kustomization.yaml")).get(0)).get("resources")).forEach(f -> files.add("base/" + f));
        Map<String, Object> demo = map(load(dir.resolve("overlays/demo/kustomization.yaml")).get(0));
        strings(demo.get("resources")).stream().filter(f -> !f.equals("../../base"))
                .forEach(f -> files.add("overlays/demo/" + f));
        list(demo.get("patches")).forEach(o -> files.add("overlays/demo/" + map(o).get("path")));
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        int read = 0;
        for (String f : files) {
            for (Map<String, Object> doc : documents(dir, f)) {
                doc.remove("__file");
                String where = "k8s/" + f + " " + doc.get("kind") + " " + map(doc.get("metadata")).get("name");
                Map.Entry<String, Class<?>> kind = kinds.get(String.valueOf(doc.get("kind")));
                assertNotNull(kind, where + ": a kind this test knows");
                assertEquals(kind.getKey(), doc.get("apiVersion"), where + ": apiVersion");
                Object typed = json.convertValue(doc, kind.getValue());
                List<String> problems = new ArrayList<>();
                unknownFields(typed, where, problems);
                assertTrue(problems.isEmpty(), String.join("\n", problems));
                read++;
            }
        }
        assertTrue(read >= 15, "documents read: " + read);
    }

    /** Walks a fabric8 model object: unknown fields (additional properties) and quantities that do not parse. */
    private static void unknownFields(Object o, String path, List<String> problems) {
        if (o == null) {
            return;
        }
        if (o instanceof List<?> l) {
            for (int i = 0; i < l.size(); i++) {
                unknownFields(l.get(i), path + "[" + i + "]", problems);
            }
            return;
        }
        if (o instanceof Map<?, ?> m) {
            m.forEach((k, v) -> unknownFields(v, path + "." + k, problems));
            return;
        }
        if (o instanceof io.fabric8.kubernetes.api.model.Quantity q) {
            try {
                io.fabric8.kubernetes.api.model.Quantity.getAmountInBytes(q);
            } catch (IllegalArgumentException e) {
                problems.add(path + ": not a quantity: " + q);
            }
            return;
        }
        if (!o.getClass().getPackageName().startsWith("io.fabric8.kubernetes.api.model")) {
            return;
        }
        for (java.lang.reflect.Method getter : o.getClass().getMethods()) {
            if (getter.getParameterCount() != 0 || !getter.getName().startsWith("get")
                    || getter.getDeclaringClass() == Object.class) {
                continue;
            }
            Object value;
            try {
                value = getter.invoke(o);
            } catch (ReflectiveOperationException e) {
                throw new AssertionError(path + ": " + getter, e);
            }
            if (getter.getName().equals("getAdditionalProperties")) {
                if (value instanceof Map<?, ?> extra && !extra.isEmpty()) {
                    problems.add(path + ": fields Kubernetes does not know here: " + extra.keySet());
                }
            } else {
                unknownFields(value, path + "." + getter.getName().substring(3), problems);
            }
        }
    }

    /** The documents of one manifest file under k8s/, each marked with its file. */
    private static List<Map<String, Object>> documents(Path k8s, String file) throws IOException {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Object d : load(k8s.resolve(file))) {
            if (d != null) {
                Map<String, Object> doc = map(d);
                doc.put("__file", file);
                out.add(doc);
            }
        }
        return out;
    }

    // ---- checks ----

    /** Every QIG_* variable sets a key the service knows; every required key is set; the values are valid. */
    private static void checkEnvironment(QigContainer c) {
        assertTrue(List.of("ingest", "attributor", "aggregator", "evaluator", "publisher", "topics").contains(c.service()),
                c.where() + ": unknown qig command " + c.service());
        Map<String, String> known = ConfigSources.envKeys(c.definition(), ServiceCommands.ConfigCommand.passThroughKeys(c.service()));
        List<String> unknown = c.env().keySet().stream()
                .filter(n -> n.startsWith(ConfigSources.ENV_PREFIX) && !known.containsKey(n)).sorted().toList();
        assertTrue(unknown.isEmpty(), c.where() + ": variables that set no setting of " + c.service() + ": " + unknown);
        for (ConfigDef.ConfigKey key : c.definition().configKeys().values()) {
            if (!key.hasDefault()) {
                assertTrue(c.env().containsKey(ConfigSources.envName(key.name)),
                        c.where() + ": the required " + key.name + " (" + ConfigSources.envName(key.name) + ") is not set");
            }
        }
        c.parsed(); // types and validators
    }

    private static void checkProbe(String where, Map<String, Object> container, String probe, String path,
                                   Map<String, Integer> ports) {
        Map<String, Object> http = map(map(container.get(probe)).get("httpGet"));
        assertEquals(path, http.get("path"), where + ": " + probe);
        Object port = http.get("port");
        assertTrue(port instanceof Number n ? n.intValue() == ports.get("metrics") : "metrics".equals(port),
                where + ": " + probe + " on the metrics port, not " + port);
    }

    /** Every topic name written anywhere in a document is a topic of the design. */
    private static void checkTopicNames(Object node, String where) {
        Set<String> allowed = new TreeSet<>();
        for (Topics.Topic t : Topics.Topic.values()) {
            allowed.add(t.defaultName());
        }
        for (String s : List.of("ingest", "attributor", "aggregator", "evaluator", "publisher", "topics")) {
            ServiceCommands.ConfigCommand.definition(s).configKeys().values().stream()
                    .filter(k -> k.name.contains("topic") && k.defaultValue instanceof String)
                    .forEach(k -> allowed.add((String) k.defaultValue)); // eval.topic
        }
        scalars(node).forEach(text -> {
            Matcher m = TOPIC_NAME.matcher(text);
            while (m.find()) {
                assertTrue(allowed.contains(m.group()), where + " names an unknown topic " + m.group());
            }
        });
    }

    // ---- reading ----

    private static Map<String, Integer> prometheusTargets() throws IOException {
        Map<String, Integer> out = new TreeMap<>();
        Map<String, Object> prom = map(load(ROOT.resolve("deploy/prometheus/prometheus.yml")).get(0));
        for (Object job : list(prom.get("scrape_configs"))) {
            for (Object sc : list(map(job).get("static_configs"))) {
                for (String target : strings(map(sc).get("targets"))) {
                    out.put(target.substring(0, target.indexOf(':')), Integer.parseInt(target.substring(target.indexOf(':') + 1)));
                }
            }
        }
        return out;
    }

    private static Map<String, String> composeEnv(Object environment) {
        Map<String, String> env = new LinkedHashMap<>();
        if (environment instanceof Map<?, ?> m) {
            m.forEach((k, v) -> env.put(String.valueOf(k), String.valueOf(v)));
        } else if (environment != null) {
            for (String e : strings(environment)) {
                int eq = e.indexOf('=');
                env.put(eq < 0 ? e : e.substring(0, eq), eq < 0 ? "" : e.substring(eq + 1));
            }
        }
        return env;
    }

    /** A container's environment: envFrom ConfigMaps and Secrets, then env (valueFrom as a stand-in value). */
    private static Map<String, String> k8sEnv(String where, Map<String, Object> container, Map<String, Map<String, Object>> configMaps,
                                              Map<String, Map<String, Object>> secrets) {
        Map<String, String> env = new LinkedHashMap<>();
        for (Object o : list(container.getOrDefault("envFrom", List.of()))) {
            Map<String, Object> from = map(o);
            for (String kind : List.of("configMapRef", "secretRef")) {
                if (from.containsKey(kind)) {
                    String name = String.valueOf(map(from.get(kind)).get("name"));
                    Map<String, Object> data = (kind.equals("configMapRef") ? configMaps : secrets).get(name);
                    assertNotNull(data, where + ": envFrom " + kind + " " + name + " is not in k8s/");
                    data.forEach((k, v) -> env.put(k, String.valueOf(v)));
                }
            }
        }
        for (Object o : list(container.getOrDefault("env", List.of()))) {
            Map<String, Object> e = map(o);
            String name = String.valueOf(e.get("name"));
            if (e.containsKey("value")) {
                env.put(name, String.valueOf(e.get("value")));
            } else {
                Map<String, Object> from = map(e.get("valueFrom"));
                if (from.containsKey("secretKeyRef")) {
                    Map<String, Object> ref = map(from.get("secretKeyRef"));
                    Map<String, Object> secret = secrets.get(String.valueOf(ref.get("name")));
                    assertNotNull(secret, where + ": " + name + " refers to the missing Secret " + ref.get("name"));
                    assertTrue(secret.containsKey(String.valueOf(ref.get("key"))), where + ": " + name + ": no key " + ref.get("key"));
                } else if (from.containsKey("configMapKeyRef")) {
                    Map<String, Object> ref = map(from.get("configMapKeyRef"));
                    assertTrue(configMaps.getOrDefault(String.valueOf(ref.get("name")), Map.of()).containsKey(String.valueOf(ref.get("key"))),
                            where + ": " + name + " refers to a missing ConfigMap key");
                }
                env.put(name, "from-" + from.keySet().iterator().next());
            }
        }
        return env;
    }

    private static List<Object> load(Path file) throws IOException {
        Yaml yaml = new Yaml(new SafeConstructor(new LoaderOptions()));
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            List<Object> out = new ArrayList<>();
            yaml.loadAll(r).forEach(out::add);
            return out;
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o) {
        if (!(o instanceof Map<?, ?>)) {
            fail("expected a mapping, got " + o);
        }
        return (Map<String, Object>) o;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object o) {
        if (!(o instanceof List<?>)) {
            fail("expected a list, got " + o);
        }
        return (List<Object>) o;
    }

    private static List<String> strings(Object o) {
        return list(o).stream().map(String::valueOf).toList();
    }

    private static List<String> scalars(Object node) {
        List<String> out = new ArrayList<>();
        if (node instanceof Map<?, ?> m) {
            m.forEach((k, v) -> {
                out.add(String.valueOf(k));
                out.addAll(scalars(v));
            });
        } else if (node instanceof List<?> l) {
            l.forEach(v -> out.addAll(scalars(v)));
        } else if (node != null) {
            out.add(String.valueOf(node));
        }
        return out;
    }

    @Test
    void theSecretsHoldOnlyPlaceholders() throws IOException {
        for (Object d : load(ROOT.resolve("k8s/base/secret.yaml"))) {
            Map<String, Object> doc = map(d);
            assertFalse(doc.containsKey("data"), "no encoded values in the committed Secret");
            map(doc.get("stringData")).forEach((k, v) -> {
                String value = String.valueOf(v);
                boolean secret = k.contains("PASSWORD") || k.contains("JAAS") || k.contains("user-info") || k.contains("TOKEN");
                assertTrue(!secret || value.contains("CHANGE-ME"), k + " must be a CHANGE-ME placeholder in the repository");
            });
        }
    }
}
