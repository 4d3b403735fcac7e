package ipt.checkpoints;

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
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * Checkpoints as objects {@code <prefix>/<lineage>/v000042/<file>} in a bucket of S3 or an S3-compatible store
 * (AWS SDK v2). The manifest's sha256 file goes up last, so a checkpoint whose upload died is incomplete and
 * refused when opened; readers fetch a checkpoint into a local cache once and verify it there.
 */
final class S3Store implements CheckpointStore {
    private static final Pattern VERSION = Pattern.compile("v(\\d{6,})");

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
        String base = location.substring(("s3://" + bucket + "/").length()).replaceAll("/+$", "");
        Path local = cache.resolve(base.substring(prefix.isEmpty() ? 0 : prefix.length() + 1));
        try {
            return Checkpoint.open(local); // fetched before, and still intact
        } catch (CheckpointException notHereOrDamaged) {
            return Checkpoint.open(fetch(base, local));
        }
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
