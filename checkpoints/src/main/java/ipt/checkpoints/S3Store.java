package ipt.checkpoints;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import ipt.runtime.DirectoryTree;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.core.sync.ResponseTransformer;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * Checkpoints as objects {@code <prefix>/<lineage>/v000042/<file>} in a bucket of S3 or an S3-compatible store
 * (AWS SDK v2). The manifest's sha256 file goes up last, so a checkpoint whose upload died is incomplete and
 * refused when opened; readers fetch a checkpoint into a local cache once and verify it there. A lineage's champion
 * is served as objects {@code <prefix>/_serving/<lineage>/v000042-<sha256 prefix>/<file>} named by ONE pointer
 * object {@code <prefix>/_serving/<lineage>.json}: S3 has no rename, so writing the pointer after every file is up
 * is the atomic switch.
 */
final class S3Store implements CheckpointStore {
    private static final Pattern VERSION = Pattern.compile("v(\\d{6,})");
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /**
     * The serving pointer: the champion's version and manifest sha256, where its files are ({@code location}, ending
     * in "/") and each file's sha256.
     */
    record Pointer(String lineage, long version, String checkpointSha256, String location, Map<String, String> files) {}

    private final S3Client s3;
    private final String bucket;
    private final String prefix;
    private final Path cache;

    S3Store(S3Client s3, String bucket, String prefix, Path cache) {
        this.s3 = s3;
        this.bucket = bucket;
        this.prefix = prefix.replaceAll("^/+|/+$", "");
        this.cache = cache;
    }

    static S3Store of(URI uri, Path cache, Map<String, String> env) {
        var builder = S3Client.builder()
                .httpClientBuilder(UrlConnectionHttpClient.builder())
                .region(Region.of(env.getOrDefault("AWS_REGION", "us-east-1")));
        String query = uri.getQuery() == null ? "" : uri.getQuery();
        String endpoint =
                query.startsWith("endpoint=") ? query.substring("endpoint=".length()) : env.get("IPT_S3_ENDPOINT");
        if (endpoint != null) builder.endpointOverride(URI.create(endpoint)).forcePathStyle(true);
        return new S3Store(builder.build(), uri.getHost(), uri.getPath(), cache);
    }

    private String key(String lineage, String name) {
        return (prefix.isEmpty() ? "" : prefix + "/") + lineage + "/" + name;
    }

    private String location(String key) {
        return "s3://" + bucket + "/" + key;
    }

    @Override
    public String keep(Checkpoint written) throws IOException {
        String base =
                key(written.manifest().lineage(), written.dir().getFileName().toString());
        List<String> files = new ArrayList<>(written.manifest().files().keySet());
        files.add(Checkpoint.MANIFEST_FILE);
        files.add(Checkpoint.MANIFEST_SHA_FILE); // last: until it is up, the checkpoint is incomplete
        try {
            for (String file : files) {
                s3.putObject(
                        b -> b.bucket(bucket).key(base + "/" + file),
                        RequestBody.fromFile(written.dir().resolve(file)));
            }
        } catch (S3Exception e) {
            throw new IOException("keeping " + written.dir() + " in " + location(base) + ": " + e.getMessage(), e);
        }
        return location(base);
    }

    @Override
    public Checkpoint open(String location) throws CheckpointException {
        if (!holds(location))
            throw new CheckpointException(location, "outside the checkpoint store " + location(prefix));
        String base = base(location);
        Path local = cached(base);
        try {
            return Checkpoint.open(local); // fetched before, and still intact
        } catch (CheckpointException notHereOrDamaged) {
            return Checkpoint.open(fetch(base, local));
        }
    }

    /** Fetched once: a model directory has no manifest to tell a damaged copy, and a lineage starts from it once. */
    @Override
    public Path localDirectory(String location) throws IOException {
        if (!holds(location)) throw new IOException(location + " is outside the checkpoint store " + location(prefix));
        String base = base(location);
        Path local = cached(base);
        if (Files.isDirectory(local)) return local;
        try {
            return fetch(base, local);
        } catch (CheckpointException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    private String base(String location) {
        return location.substring(("s3://" + bucket + "/").length()).replaceAll("/+$", "");
    }

    private Path cached(String base) {
        return cache.resolve(base.substring(prefix.isEmpty() ? 0 : prefix.length() + 1));
    }

    /** Downloads every object under {@code base} into a fresh directory that then replaces {@code local}. */
    private Path fetch(String base, Path local) throws CheckpointException {
        try {
            Files.createDirectories(local.getParent());
            Path partial = Files.createTempDirectory(local.getParent(), "." + local.getFileName() + ".fetch-");
            List<S3Object> objects =
                    s3.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(base + "/")).contents().stream()
                            .toList();
            if (objects.isEmpty())
                throw new CheckpointException(Checkpoint.MANIFEST_FILE, "missing: no objects under " + location(base));
            for (S3Object o : objects) {
                String name = o.key().substring(base.length() + 1);
                if (name.contains("/")) continue; // not one of the checkpoint's own files
                s3.getObject(b -> b.bucket(bucket).key(o.key()), ResponseTransformer.toFile(partial.resolve(name)));
            }
            DirectoryTree.delete(local); // a damaged earlier copy, if any: replaced whole
            Files.move(partial, local, StandardCopyOption.ATOMIC_MOVE);
            return local;
        } catch (IOException | S3Exception e) {
            throw new CheckpointException(
                    Checkpoint.MANIFEST_FILE, "cannot fetch " + location(base) + ": " + e.getMessage(), e);
        }
    }

    @Override
    public boolean holds(String location) {
        String root = location(prefix.isEmpty() ? "" : prefix + "/");
        return location.startsWith(root) && !location.substring(root.length()).contains("..");
    }

    @Override
    public List<String> removeAfter(String lineage, long version) throws IOException {
        String base = key(lineage, "");
        Map<String, List<ObjectIdentifier>> byCheckpoint = new TreeMap<>();
        try {
            for (S3Object o : s3.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(base))
                    .contents()) {
                String name = o.key().substring(base.length()).split("/", 2)[0];
                Matcher m = VERSION.matcher(name);
                if (m.matches() && Long.parseLong(m.group(1)) > version) {
                    byCheckpoint
                            .computeIfAbsent(name, n -> new ArrayList<>())
                            .add(ObjectIdentifier.builder().key(o.key()).build());
                }
            }
            for (List<ObjectIdentifier> objects : byCheckpoint.values()) {
                s3.deleteObjects(b -> b.bucket(bucket).delete(d -> d.objects(objects)));
            }
        } catch (S3Exception e) {
            throw new IOException(
                    "removing uncommitted checkpoints of " + lineage + " from " + location(base) + ": "
                            + e.getMessage(),
                    e);
        }
        return new ArrayList<>(byCheckpoint.keySet());
    }

    @Override
    public Served serve(Checkpoint champion) throws IOException {
        String lineage = CheckpointStore.requireLineage(champion.manifest().lineage());
        Served next = new Served(champion.manifest().version(), champion.sha256());
        String folder = String.format(
                "v%06d-%s", next.version(), next.checkpointSha256().substring(0, 16));
        String base = servingKey(lineage) + "/" + folder;
        Pointer previous = pointer(lineage);
        Files.createDirectories(cache);
        Path staging = Files.createTempDirectory(cache, ".serving-" + lineage + "-");
        try {
            Map<String, String> files = champion.writeHuggingFace(staging);
            for (String file : files.keySet()) {
                s3.putObject(b -> b.bucket(bucket).key(base + "/" + file), RequestBody.fromFile(staging.resolve(file)));
            }
            byte[] pointer = JSON.writeValueAsBytes(
                    new Pointer(lineage, next.version(), next.checkpointSha256(), location(base) + "/", files));
            s3.putObject(
                    b -> b.bucket(bucket).key(servingKey(lineage) + ".json").contentType("application/json"),
                    RequestBody.fromBytes(pointer)); // the switch
            String kept = previous == null ? null : previous.location().replaceAll("/+$", "");
            List<ObjectIdentifier> older = new ArrayList<>();
            for (S3Object o : s3.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(servingKey(lineage) + "/"))
                    .contents()) {
                String in = location(o.key().substring(0, o.key().lastIndexOf('/')));
                if (!in.equals(location(base)) && !in.equals(kept))
                    older.add(ObjectIdentifier.builder().key(o.key()).build());
            }
            for (int i = 0; i < older.size(); i += 1000) { // DeleteObjects takes at most 1000 keys
                List<ObjectIdentifier> batch = older.subList(i, Math.min(older.size(), i + 1000));
                s3.deleteObjects(b -> b.bucket(bucket).delete(d -> d.objects(batch)));
            }
        } catch (S3Exception e) {
            throw new IOException("serving " + champion.dir() + " at " + location(base) + ": " + e.getMessage(), e);
        } finally {
            DirectoryTree.delete(staging);
        }
        return next;
    }

    @Override
    public Served served(String lineage) throws IOException {
        Pointer p = pointer(CheckpointStore.requireLineage(lineage));
        return p == null ? null : new Served(p.version(), p.checkpointSha256());
    }

    /** The lineage's serving pointer, or null if there is none. */
    private Pointer pointer(String lineage) throws IOException {
        try {
            return JSON.readValue(
                    s3.getObjectAsBytes(b -> b.bucket(bucket).key(servingKey(lineage) + ".json"))
                            .asByteArray(),
                    Pointer.class);
        } catch (NoSuchKeyException e) {
            return null;
        } catch (S3Exception e) {
            throw new IOException("reading " + servingLocation(lineage) + ": " + e.getMessage(), e);
        }
    }

    /** The pointer object, {@code s3://bucket/prefix/_serving/<lineage>.json}. */
    @Override
    public String servingLocation(String lineage) {
        return location(servingKey(CheckpointStore.requireLineage(lineage)) + ".json");
    }

    private String servingKey(String lineage) {
        return key(SERVING, lineage);
    }

    @Override
    public SortedMap<Long, Long> held(String lineage) throws IOException {
        String base = key(checked(lineage), "");
        SortedMap<Long, Long> out = new TreeMap<>();
        try {
            for (S3Object o : s3.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(base))
                    .contents()) {
                Matcher m = VERSION.matcher(o.key().substring(base.length()).split("/", 2)[0]);
                if (m.matches()) out.merge(Long.parseLong(m.group(1)), o.size(), Long::sum);
            }
        } catch (S3Exception e) {
            throw new IOException("listing " + location(base) + ": " + e.getMessage(), e);
        }
        return out;
    }

    @Override
    public void remove(String lineage, long version) throws IOException {
        String base = key(checked(lineage), CheckpointDirectories.name(version)) + "/";
        try {
            // The manifest's sha256 goes first: a deletion cut short leaves a checkpoint readers refuse as incomplete.
            s3.deleteObject(b -> b.bucket(bucket).key(base + Checkpoint.MANIFEST_SHA_FILE));
            List<ObjectIdentifier> rest = new ArrayList<>();
            for (S3Object o : s3.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(base))
                    .contents())
                rest.add(ObjectIdentifier.builder().key(o.key()).build());
            for (int i = 0; i < rest.size(); i += 1000) {
                List<ObjectIdentifier> batch = rest.subList(i, Math.min(rest.size(), i + 1000));
                s3.deleteObjects(b -> b.bucket(bucket).delete(d -> d.objects(batch)));
            }
        } catch (S3Exception e) {
            throw new IOException("deleting " + location(base) + ": " + e.getMessage(), e);
        }
        DirectoryTree.delete(cache.resolve(lineage).resolve(CheckpointDirectories.name(version)));
    }

    @Override
    public void trimCache(String lineage, Set<Long> keep, int newest) throws IOException {
        CheckpointDirectories.trim(CheckpointDirectories.lineageDir(cache, lineage), keep, newest);
    }

    private static String checked(String lineage) {
        CheckpointDirectories.lineageDir(Path.of(""), lineage);
        return lineage;
    }

    @Override
    public String toString() {
        return location(prefix);
    }
}
