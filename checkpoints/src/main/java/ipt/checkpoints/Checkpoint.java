package ipt.checkpoints;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import ipt.model.GptConfig;
import ipt.model.LanguageModel;
import ipt.model.TrainConfig;
import ipt.model.Training;
import ipt.runtime.DirectoryTree;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;

/**
 * A checkpoint directory: manifest.json, its sha256 in manifest.sha256, the weights (params.bin, or model.pt for
 * a TorchScript model), optimizer.bin, tokenizer.json when the model has one, and any extra files. The manifest
 * lists the sha256 of every other file, so a checkpoint is either complete and intact or refused by {@link #open}.
 */
public final class Checkpoint {

    public static final int FORMAT_VERSION = 1;
    static final String PARAMS_FILE = "params.bin";
    static final String TORCHSCRIPT_FILE = "model.pt";
    static final String TOKENIZER_FILE = "tokenizer.json";
    static final String OPTIMIZER_FILE = "optimizer.bin";
    static final String MANIFEST_FILE = "manifest.json";
    /** Lets open() detect an edited or truncated manifest, which lists no hash of itself. */
    static final String MANIFEST_SHA_FILE = "manifest.sha256";

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /**
     * What a checkpoint is: its lineage and version, the model shape and architecture ({@link LanguageModel#IPT_GPT},
     * or {@link LanguageModel#TORCHSCRIPT}: weights in model.pt), training progress, the Kafka
     * offsets ("topic-partition" -> next offset) it has consumed, and the sha256 of every file.
     */
    public record Manifest(
            int formatVersion,
            String lineage,
            long version,
            Long parentVersion,
            GptConfig model,
            String architecture,
            long step,
            long tokensSeen,
            Map<String, Long> offsets,
            double trainLoss,
            long createdAtMillis,
            Map<String, String> files) {}

    private final Path dir;
    private final Manifest manifest;
    private final String sha256;

    private Checkpoint(Path dir, Manifest manifest, String sha256) {
        this.dir = dir;
        this.manifest = manifest;
        this.sha256 = sha256;
    }

    /**
     * Writes the model's parameters, its optimizer state and the extra files into a temporary directory
     * beside root/dirName, fsyncs every file and the directory, renames it to root/dirName in one step
     * and fsyncs root: a crash leaves either no checkpoint or a complete one. {@code manifest.files()}
     * is ignored and replaced by the files' hashes. Fails if root/dirName already exists.
     */
    public static Checkpoint write(
            Path root, String dirName, Manifest manifest, Training training, Map<String, byte[]> extraFiles)
            throws IOException {
        LanguageModel model = training.model();
        requireSimpleName(dirName);
        if (!manifest.model().equals(model.config())
                || !model.architecture().equals(manifest.architecture())
                || manifest.step() != training.step()) {
            throw new IllegalArgumentException("manifest says " + manifest.architecture() + " " + manifest.model()
                    + " at step " + manifest.step() + " but the model is " + model.architecture() + " " + model.config()
                    + " at step " + training.step());
        }
        Map<String, byte[]> contents = new TreeMap<>(extraFiles);
        for (String name : contents.keySet()) {
            requireSimpleName(name);
        }
        for (String reserved : new String[] {
            MANIFEST_FILE, MANIFEST_SHA_FILE, PARAMS_FILE, TORCHSCRIPT_FILE, OPTIMIZER_FILE, TOKENIZER_FILE
        }) {
            if (contents.containsKey(reserved)) {
                throw new IllegalArgumentException("extra file may not be named " + reserved);
            }
        }
        contents.put(weightsFile(model.architecture()), model.parameterBytes());
        if (model.tokenizerJson() != null) contents.put(TOKENIZER_FILE, model.tokenizerJson());
        contents.put(OPTIMIZER_FILE, training.optimizerBytes());

        Path target = root.resolve(dirName);
        if (Files.exists(target)) {
            throw new FileAlreadyExistsException(target.toString());
        }
        Files.createDirectories(root);
        Path tmp = Files.createTempDirectory(root, "." + dirName + ".tmp-");
        try {
            Map<String, String> hashes = new TreeMap<>();
            for (Map.Entry<String, byte[]> file : contents.entrySet()) {
                writeDurably(tmp.resolve(file.getKey()), file.getValue());
                hashes.put(file.getKey(), sha256(file.getValue()));
            }
            Manifest written = new Manifest(
                    FORMAT_VERSION,
                    manifest.lineage(),
                    manifest.version(),
                    manifest.parentVersion(),
                    manifest.model(),
                    manifest.architecture(),
                    manifest.step(),
                    manifest.tokensSeen(),
                    new TreeMap<>(manifest.offsets()),
                    manifest.trainLoss(),
                    manifest.createdAtMillis(),
                    hashes);
            byte[] json = JSON.writeValueAsBytes(written);
            String manifestSha = sha256(json);
            writeDurably(tmp.resolve(MANIFEST_FILE), json);
            writeDurably(tmp.resolve(MANIFEST_SHA_FILE), manifestSha.getBytes(StandardCharsets.US_ASCII));
            fsync(tmp);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            fsync(root);
            return new Checkpoint(target, written, manifestSha);
        } catch (IOException | RuntimeException e) {
            try {
                DirectoryTree.delete(tmp);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    /** Reads the manifest and verifies the sha256 of the manifest and of every file it lists. */
    public static Checkpoint open(Path dir) throws CheckpointException {
        byte[] json = read(dir, MANIFEST_FILE);
        String manifestSha = sha256(json);
        String recorded = new String(read(dir, MANIFEST_SHA_FILE), StandardCharsets.US_ASCII).trim();
        if (!recorded.equals(manifestSha)) {
            throw new CheckpointException(
                    MANIFEST_FILE, "sha256 " + manifestSha + " differs from " + MANIFEST_SHA_FILE + " " + recorded);
        }
        Manifest manifest;
        try {
            manifest = JSON.readValue(json, Manifest.class);
        } catch (IOException e) {
            throw new CheckpointException(MANIFEST_FILE, "unreadable: " + e.getMessage(), e);
        }
        if (manifest.formatVersion() != FORMAT_VERSION) {
            throw new CheckpointException(
                    MANIFEST_FILE, "format version " + manifest.formatVersion() + ", expected " + FORMAT_VERSION);
        }
        if (manifest.model() == null || manifest.files() == null || manifest.offsets() == null) {
            throw new CheckpointException(MANIFEST_FILE, "lacks model, files or offsets");
        }
        if (manifest.architecture() == null) { // written before TorchScript starts
            manifest = new Manifest(
                    manifest.formatVersion(),
                    manifest.lineage(),
                    manifest.version(),
                    manifest.parentVersion(),
                    manifest.model(),
                    LanguageModel.IPT_GPT,
                    manifest.step(),
                    manifest.tokensSeen(),
                    manifest.offsets(),
                    manifest.trainLoss(),
                    manifest.createdAtMillis(),
                    manifest.files());
        }
        for (String required : new String[] {weightsFile(manifest.architecture()), OPTIMIZER_FILE}) {
            if (!manifest.files().containsKey(required)) {
                throw new CheckpointException(required, "not listed in " + MANIFEST_FILE);
            }
        }
        for (Map.Entry<String, String> file : manifest.files().entrySet()) {
            if (!isSimpleName(file.getKey())) {
                throw new CheckpointException(MANIFEST_FILE, "lists a file outside the checkpoint: " + file.getKey());
            }
            String actual = sha256(read(dir, file.getKey()));
            if (!actual.equals(file.getValue())) {
                throw new CheckpointException(
                        file.getKey(), "sha256 " + actual + " differs from the manifest's " + file.getValue());
            }
        }
        return new Checkpoint(dir, manifest, manifestSha);
    }

    public Path dir() {
        return dir;
    }

    public Manifest manifest() {
        return manifest;
    }

    /** sha256 hex of manifest.json's bytes: the checkpoint's identity, which services compare. */
    public String sha256() {
        return sha256;
    }

    /** The model: weights and tokenizer, ready to score text. The optimizer state is not read. */
    public LanguageModel model() throws IOException {
        byte[] tokenizer = manifest.files().containsKey(TOKENIZER_FILE) ? file(TOKENIZER_FILE) : null;
        try {
            return LanguageModel.of(
                    manifest.model(), manifest.architecture(), file(weightsFile(manifest.architecture())), tokenizer);
        } catch (IOException e) {
            throw new IOException(dir + ": " + e.getMessage(), e);
        }
    }

    /** The model with its optimizer state and step count, to go on training where this checkpoint left off. */
    public Training training(TrainConfig train) throws IOException {
        byte[] optimizer = file(OPTIMIZER_FILE);
        LanguageModel model = model();
        try {
            return Training.resume(model, train, optimizer, manifest.step());
        } catch (IOException | RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** The file a checkpoint keeps an architecture's weights in: the TorchScript archive itself, or DJL's parameter
     * file. */
    static String weightsFile(String architecture) {
        return LanguageModel.TORCHSCRIPT.equals(architecture) ? TORCHSCRIPT_FILE : PARAMS_FILE;
    }

    /** A listed file's bytes, verified again against the manifest (the directory may change after open). */
    public byte[] file(String name) throws IOException {
        String expected = manifest.files().get(name);
        if (expected == null) {
            throw new NoSuchFileException(dir.resolve(name).toString(), null, "not listed in the manifest");
        }
        byte[] bytes = Files.readAllBytes(dir.resolve(name));
        if (!sha256(bytes).equals(expected)) {
            throw new IOException(dir.resolve(name) + ": sha256 differs from the manifest");
        }
        return bytes;
    }

    private static byte[] read(Path dir, String name) throws CheckpointException {
        try {
            return Files.readAllBytes(dir.resolve(name));
        } catch (NoSuchFileException e) {
            throw new CheckpointException(name, "missing", e);
        } catch (IOException e) {
            throw new CheckpointException(name, "unreadable: " + e, e);
        }
    }

    private static void writeDurably(Path path, byte[] bytes) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
            channel.force(true);
        }
    }

    /** Makes a directory's entries (created files, a rename) durable. */
    private static void fsync(Path directory) throws IOException {
        try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }

    private static boolean isSimpleName(String name) {
        return !name.isEmpty() && !name.startsWith(".") && !name.contains("/") && !name.contains("\\");
    }

    private static void requireSimpleName(String name) {
        if (!isSimpleName(name)) {
            throw new IllegalArgumentException("not a plain file name: '" + name + "'");
        }
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }
}
