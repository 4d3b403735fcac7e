package ipt.standalone;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import ipt.schemas.Topics;
import ipt.testsupport.EmbeddedKafka;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The container image, target/jib-image.tar (built by the `image` profile, on whenever tests run), run the way
 * a container runtime runs it: its layers unpacked in order into a root filesystem that is mounted read-only, with
 * /proc, /dev, /etc/hosts and a tmpfs at /tmp (the chart's emptyDir); its entrypoint started in a chroot with its
 * own mount and PID namespaces, as the image's user, in its working directory, with nothing but its environment.
 * Needs root (CI runs as root) for the namespaces and the chroot.
 */
class ImageIT {
    static final Path IMAGE = Path.of("target", "jib-image.tar").toAbsolutePath();
    static final Path VALUES =
            Path.of("..", "helm", "ipt", "values.yaml").toAbsolutePath().normalize();
    /** What a runtime does before it starts the entrypoint; the mount points were made when the image was unpacked. */
    static final String LAUNCH = """
      root=$1 uid=$2 gid=$3 workdir=$4; shift 4
      mount --bind "$root" "$root"
      mount -o remount,bind,ro "$root"
      mount -t proc proc "$root/proc"
      mount --rbind /dev "$root/dev"
      mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
      mount --bind /etc/hosts "$root/etc/hosts"
      mount --bind /etc/resolv.conf "$root/etc/resolv.conf"
      exec /usr/bin/unshare --root="$root" --wd="$workdir" --setuid="$uid" --setgid="$gid" -- "$@"
      """;

    static Path unpacked;
    static Path root;
    static JsonNode manifest;
    static JsonNode config;

    @BeforeAll
    static void unpack() throws Exception {
        assertTrue(Files.isRegularFile(IMAGE), "no " + IMAGE + ": the image profile builds it in the package phase");
        assertEquals(
                0,
                (int) Files.getAttribute(Path.of("/proc/self"), "unix:uid"),
                "ImageIT runs the image in a chroot with its own mount and PID namespaces, which needs root:"
                        + " run mvn verify as root (CI does), or leave out the image and this test with -P'!image'");
        unpacked = Files.createTempDirectory("ipt-image");
        exec(unpacked, "tar", "-xf", IMAGE.toString());
        ObjectMapper json = new ObjectMapper();
        manifest = json.readTree(unpacked.resolve("manifest.json").toFile()).get(0);
        config = json.readTree(unpacked.resolve(manifest.get("Config").asText()).toFile())
                .get("config");
        root = Files.createDirectory(unpacked.resolve("rootfs"));
        for (JsonNode layer : manifest.get("Layers")) {
            // Jib's layers carry LIBARCHIVE.creationtime headers: GNU tar warns about them and goes on.
            exec(
                    root,
                    "tar",
                    "--warning=no-unknown-keyword",
                    "-xf",
                    unpacked.resolve(layer.asText()).toString());
        }
        try (Stream<Path> files = Files.walk(root)) {
            assertTrue(
                    files.noneMatch(f -> f.getFileName().toString().startsWith(".wh.")),
                    "a whiteout: unpacking in order is not enough");
        }
        Files.createDirectories(root.resolve("proc"));
        Files.createDirectories(root.resolve("dev"));
        Files.createFile(root.resolve("etc/hosts"));
        Files.createFile(root.resolve("etc/resolv.conf"));
    }

    @AfterAll
    static void delete() throws Exception {
        if (unpacked != null) exec(Path.of("/"), "rm", "-rf", unpacked.toString());
    }

    @Test
    void theChartNamesThisImageAndRunsItAsItsUser() throws IOException {
        JsonNode values = new YAMLMapper().readTree(VALUES.toFile());
        assertEquals(
                values.at("/image/repository").asText() + ":"
                        + values.at("/image/tag").asText(),
                manifest.at("/RepoTags/0").asText());
        assertEquals(
                values.at("/podSecurityContext/runAsUser").asText() + ":"
                        + values.at("/podSecurityContext/runAsGroup").asText(),
                config.get("User").asText());
    }

    @Test
    void printsItsVersion() throws Exception {
        Run run = run(Map.of(), 60, "--version");
        assertEquals(0, run.exit(), run.output());
        assertTrue(
                run.output()
                        .contains("ipt " + manifest.at("/RepoTags/0").asText().replaceFirst(".*:", "")),
                run.output());
    }

    /** The embedded broker, curation (Kafka Streams), both trainers (PyTorch, a RocksDB replay store) and the
     * evaluator. */
    @Test
    void theDemoTrainsInsideTheImage() throws Exception {
        Run run = run(
                Map.of(),
                360,
                "demo",
                "--english-kb",
                "20",
                "--java-kb",
                "10",
                "--german-kb",
                "10",
                "--french-kb",
                "10",
                "--steps-per-round",
                "5",
                "--batch-size",
                "4");
        List<String> lines = run.output().lines().toList();
        System.out.println(String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size())));
        assertEquals(0, run.exit(), run.output());
        // Service logs go to the work directory's services.log; the terminal shows each lineage's judged rounds.
        assertTrue(Pattern.compile("(?m)^replay +v1 ").matcher(run.output()).find(), run.output());
        assertTrue(Pattern.compile("(?m)^no-replay +v1 ").matcher(run.output()).find(), run.output());
        assertTrue(
                run.output().contains("report: /tmp/ipt-demo/report.html"),
                "the working directory is /tmp: " + run.output());
        assertTrue(
                run.output().contains("en → java → de → fr"),
                "UTF-8 output (LANG=C.UTF-8, its locale in the image): " + run.output());
    }

    /** A service as the chart starts one: its first argument, KAFKA_BOOTSTRAP_SERVERS by host name (/etc/hosts via
     * nsswitch). */
    @Test
    void createsTopicsOnKafkaByHostName() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start();
                Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
            String port = kafka.bootstrapServers().replaceFirst(".*:", "");
            Run run = run(
                    Map.of("KAFKA_BOOTSTRAP_SERVERS", "localhost:" + port),
                    120,
                    "topics",
                    "--partitions",
                    "1",
                    "--replication-factor",
                    "1");
            assertEquals(0, run.exit(), run.output());
            Set<String> topics = admin.listTopics().names().get();
            assertTrue(
                    topics.containsAll(
                            Topics.specs(1).stream().map(Topics.Spec::name).toList()),
                    topics.toString());
        }
    }

    record Run(int exit, String output) {}

    /** The image's entrypoint with these arguments (as a pod's args replace the image's Cmd) and extra environment. */
    static Run run(Map<String, String> env, long timeoutSeconds, String... args) throws Exception {
        String[] user = config.get("User").asText().split(":");
        List<String> command = new ArrayList<>(List.of(
                "/usr/bin/unshare",
                "--mount",
                "--pid",
                "--fork",
                "--kill-child",
                "/bin/bash",
                "-euc",
                LAUNCH,
                "launch",
                root.toString(),
                user[0],
                user[1],
                config.get("WorkingDir").asText()));
        config.get("Entrypoint").forEach(e -> command.add(e.asText()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        Map<String, String> environment = new HashMap<>();
        config.get("Env").forEach(e -> {
            String[] variable = e.asText().split("=", 2);
            environment.put(variable[0], variable[1]);
        });
        environment.putAll(env);
        builder.environment().clear();
        builder.environment().putAll(environment);
        Path log = Files.createTempFile(unpacked, "run", ".log");
        Process process = builder.redirectOutput(log.toFile()).start();
        boolean exited = process.waitFor(timeoutSeconds, TimeUnit.SECONDS);
        if (!exited) process.destroyForcibly().waitFor();
        String output = Files.readString(log, StandardCharsets.UTF_8);
        assertTrue(exited, "still running after " + timeoutSeconds + " s: " + output);
        return new Run(process.exitValue(), output);
    }

    static void exec(Path dir, String... command) throws Exception {
        Process p = new ProcessBuilder(command)
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), String.join(" ", command) + ": " + output);
    }
}
