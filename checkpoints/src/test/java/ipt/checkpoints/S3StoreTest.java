package ipt.checkpoints;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import ipt.model.TrainConfig;
import ipt.model.Training;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Checkpoints through S3 against a real S3-compatible server: S3Proxy (Maven Central's
 * s3proxy-jar-with-dependencies, copied to target/s3proxy by the build) as its own process on loopback.
 */
class S3StoreTest {
    private static Process s3proxy;
    private static String endpoint;
    private static S3Client s3;

    @TempDir
    Path dir;

    @BeforeAll
    static void startS3Proxy(@TempDir Path work) throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        endpoint = "http://127.0.0.1:" + port;
        Path conf = work.resolve("s3proxy.conf");
        Files.writeString(
                conf,
                String.join(
                        "\n",
                        "s3proxy.endpoint=" + endpoint,
                        "s3proxy.authorization=aws-v2-or-v4",
                        "s3proxy.identity=ipt",
                        "s3proxy.credential=ipt-secret",
                        "jclouds.provider=transient",
                        "jclouds.identity=ipt",
                        "jclouds.credential=ipt-secret",
                        ""));
        s3proxy = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-jar",
                        Path.of("target", "s3proxy", "s3proxy.jar").toString(),
                        "--properties",
                        conf.toString())
                .redirectErrorStream(true)
                .redirectOutput(work.resolve("s3proxy.log").toFile())
                .start();
        s3 = S3Client.builder()
                .endpointOverride(URI.create(endpoint))
                .forcePathStyle(true)
                .region(Region.US_EAST_1)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("ipt", "ipt-secret")))
                .build();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            try {
                s3.createBucket(b -> b.bucket("ipt"));
                break;
            } catch (Exception starting) {
                if (System.nanoTime() > deadline || !s3proxy.isAlive())
                    throw new IllegalStateException(
                            "S3Proxy did not start: " + Files.readString(work.resolve("s3proxy.log")), starting);
                Thread.sleep(250);
            }
        }
    }

    @AfterAll
    static void stopS3Proxy() throws Exception {
        s3.close();
        s3proxy.destroy();
        s3proxy.waitFor(30, TimeUnit.SECONDS);
    }

    private CheckpointStore store(Path cache) {
        System.setProperty("aws.accessKeyId", "ipt"); // the SDK's default credential chain reads these
        System.setProperty("aws.secretAccessKey", "ipt-secret");
        return CheckpointStore.of(
                "s3://ipt/deployments/prod", cache, Map.of("IPT_S3_ENDPOINT", endpoint, "AWS_REGION", "us-east-1"));
    }

    private Checkpoint write(Training model, long version) throws Exception {
        return Checkpoint.write(
                dir.resolve("local").resolve("main"),
                String.format("v%06d", version),
                TinyModels.manifest(model, version),
                model,
                Map.of());
    }

    /** IPT_START_FROM=s3://…: a Hugging Face directory in the store is read as a local one, fetched once. */
    @Test
    void aModelDirectoryInTheStoreIsFetchedOnceIntoTheCache() throws Exception {
        try (Training model = Training.create(TinyModels.TINY, TrainConfig.defaults())) {
            Path hf = Files.createDirectories(dir.resolve("hf"));
            write(model, 1).writeHuggingFace(hf);
            List<String> names = new ArrayList<>();
            try (var files = Files.list(hf)) {
                for (Path f : files.toList()) {
                    names.add(f.getFileName().toString());
                    s3.putObject(
                            b -> b.bucket("ipt").key("deployments/prod/models/tiny/" + f.getFileName()),
                            RequestBody.fromFile(f));
                }
            }
            CheckpointStore store = store(dir.resolve("trainer-cache"));
            Path local = store.localDirectory("s3://ipt/deployments/prod/models/tiny/");
            for (String name : names)
                assertArrayEquals(Files.readAllBytes(hf.resolve(name)), Files.readAllBytes(local.resolve(name)), name);
            try (ipt.model.LanguageModel loaded = ipt.model.LanguageModel.fromHuggingFace(local, 16)) {
                assertEquals(model.model().parameterCount(), loaded.parameterCount(), "a model directory as written");
            }

            for (String name : names) s3.deleteObject(b -> b.bucket("ipt").key("deployments/prod/models/tiny/" + name));
            assertEquals(local, store.localDirectory("s3://ipt/deployments/prod/models/tiny"), "fetched once");
            assertThrows(
                    java.io.IOException.class,
                    () -> store(dir.resolve("other-cache")).localDirectory("s3://ipt/deployments/prod/models/tiny"),
                    "nothing under the location any more");
            assertThrows(
                    java.io.IOException.class,
                    () -> store.localDirectory("s3://ipt/elsewhere/models/tiny"),
                    "outside the store");
        }
    }

    @Test
    void aCheckpointKeptInS3OpensElsewhereBitForBit() throws Exception {
        try (Training model = Training.create(TinyModels.TINY, TrainConfig.defaults())) {
            model.trainStep(TinyModels.batch(0), 1e-3f);
            Checkpoint written = write(model, 1);
            String location = store(dir.resolve("trainer-cache")).keep(written);
            assertEquals(
                    "s3://ipt/deployments/prod/test/v000001",
                    location,
                    "lineage from the manifest, version from the directory");

            CheckpointStore reader = store(dir.resolve("evaluator-cache"));
            assertTrue(reader.holds(location));
            assertFalse(reader.holds("s3://ipt/other/test/v000001"));
            assertFalse(reader.holds("s3://ipt/deployments/prod/../other/test/v000001"));
            Checkpoint fetched = reader.open(location);
            assertEquals(written.sha256(), fetched.sha256());
            try (Training loaded = fetched.training(TrainConfig.defaults())) {
                assertArrayEquals(model.model().parameterBytes(), loaded.model().parameterBytes());
                assertArrayEquals(model.optimizerBytes(), loaded.optimizerBytes());
            }
            assertEquals(fetched.dir(), reader.open(location).dir(), "fetched once, then opened from the cache");
        }
    }

    @Test
    void aTamperedOrHalfUploadedCheckpointIsRefused() throws Exception {
        try (Training model = Training.create(TinyModels.TINY, TrainConfig.defaults())) {
            CheckpointStore store = store(dir.resolve("cache"));
            String tampered = store.keep(write(model, 2));
            byte[] params = Files.readAllBytes(dir.resolve("local/main/v000002/model.safetensors"));
            params[params.length / 2] ^= 1;
            s3.putObject(
                    b -> b.bucket("ipt").key("deployments/prod/test/v000002/model.safetensors"),
                    RequestBody.fromBytes(params));
            CheckpointException e = assertThrows(
                    CheckpointException.class,
                    () -> store(dir.resolve("fresh-cache")).open(tampered));
            assertTrue(e.getMessage().startsWith("model.safetensors: sha256"), e.getMessage());

            String half = store.keep(write(model, 3));
            s3.deleteObject(b -> b.bucket("ipt")
                    .key("deployments/prod/test/v000003/manifest.sha256")); // the upload died before its last file
            e = assertThrows(
                    CheckpointException.class,
                    () -> store(dir.resolve("another-cache")).open(half));
            assertTrue(e.getMessage().startsWith("manifest.sha256: missing"), e.getMessage());
        }
    }

    @Test
    void uncommittedCheckpointsAreRemoved() throws Exception {
        try (Training model = Training.create(TinyModels.TINY, TrainConfig.defaults())) {
            CheckpointStore store = store(dir.resolve("cache"));
            for (long v = 11; v <= 13; v++) store.keep(write(model, v));
            assertEquals(List.of("v000012", "v000013"), store.removeAfter("test", 11));
            assertEquals(List.of(), store.removeAfter("test", 11));
            assertEquals(
                    11,
                    store.open("s3://ipt/deployments/prod/test/v000011")
                            .manifest()
                            .version());
            assertThrows(
                    CheckpointException.class,
                    () -> store(dir.resolve("cold")).open("s3://ipt/deployments/prod/test/v000012"));
        }
    }

    @Test
    void theChampionIsServedUnderOnePointerObjectWrittenLast() throws Exception {
        try (Training model = Training.create(TinyModels.TINY, TrainConfig.defaults())) {
            CheckpointStore store = store(dir.resolve("cache"));
            Checkpoint[] versions = new Checkpoint[3];
            for (int v = 1; v <= 3; v++) {
                model.trainStep(TinyModels.batch(v), 1e-3f);
                versions[v - 1] = write(model, 20 + v);
            }
            assertEquals("s3://ipt/deployments/prod/_serving/test.json", store.servingLocation("test"));
            assertNull(store.served("test"));

            for (Checkpoint c : versions) {
                assertEquals(new CheckpointStore.Served(c.manifest().version(), c.sha256()), store.serve(c));
                JsonNode pointer = new ObjectMapper()
                        .readTree(s3.getObjectAsBytes(b -> b.bucket("ipt").key("deployments/prod/_serving/test.json"))
                                .asByteArray());
                assertEquals(c.manifest().version(), pointer.get("version").asLong());
                assertEquals(c.sha256(), pointer.get("checkpointSha256").asText());
                String location = pointer.get("location").asText();
                assertEquals(
                        String.format(
                                "s3://ipt/deployments/prod/_serving/test/v%06d-%s/",
                                c.manifest().version(), c.sha256().substring(0, 16)),
                        location);
                List<String> files = new ArrayList<>();
                pointer.get("files").fieldNames().forEachRemaining(files::add);
                assertEquals(
                        List.of("config.json", "generation_config.json", "model.safetensors", "tokenizer.json"), files);
                for (String file : files) {
                    byte[] object = s3.getObjectAsBytes(
                                    b -> b.bucket("ipt").key(location.substring("s3://ipt/".length()) + file))
                            .asByteArray();
                    assertArrayEquals(c.file(file), object, file);
                    assertEquals(
                            c.manifest().files().get(file),
                            pointer.get("files").get(file).asText(),
                            file);
                }
            }
            assertEquals(
                    new CheckpointStore.Served(23, versions[2].sha256()),
                    store(dir.resolve("other")).served("test"));
            List<String> folders =
                    s3.listObjectsV2(b -> b.bucket("ipt").prefix("deployments/prod/_serving/test/")).contents().stream()
                            .map(o -> o.key().split("/")[4].substring(0, 7))
                            .distinct()
                            .toList();
            assertEquals(List.of("v000022", "v000023"), folders, "the champion and the one before it");
            assertEquals(
                    List.of(),
                    store.removeAfter("test", 0).stream()
                            .filter(n -> n.startsWith("_"))
                            .toList());
            assertEquals(23, store.served("test").version(), "removing a lineage's checkpoints leaves what is served");
        }
    }
}
