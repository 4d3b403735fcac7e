package ipt.checkpoints;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import ipt.model.GptConfig;
import ipt.model.LanguageModel;
import ipt.model.TrainConfig;
import ipt.model.Training;
import ipt.runtime.DirectoryTree;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A checkpoint directory: a Hugging Face model directory as {@link LanguageModel#writeHuggingFace} writes it
 * (config.json, model.safetensors or its shards and index, tokenizer.json, generation_config.json), or model.pt and
 * tokenizer.json for a TorchScript model, which has no such form; beside it manifest.json, its sha256 in
 * manifest.sha256, optimizer.bin and any extra files. The manifest lists the sha256 of every other file, so a
 * checkpoint is either complete and intact or refused by {@link #open}. Format 1 checkpoints, which held ipt's GPT as
 * DJL's params.bin, are still read.
 */
public final class Checkpoint {

    /** 2: the model as a Hugging Face directory. 1: ipt's GPT in params.bin (read, never written). */
    public static final int FORMAT_VERSION = 2;

    static final int PARAMS_FORMAT_VERSION = 1;
    /** As transformers' save_pretrained shards: no weights file past a few GB. */
    public static final long DEFAULT_MAX_SHARD_BYTES = 2048L << 20;

    static final String PARAMS_FILE = "params.bin";
    static final String TORCHSCRIPT_FILE = "model.pt";
    static final String TOKENIZER_FILE = "tokenizer.json";
    static final String OPTIMIZER_FILE = "optimizer.bin";
    public static final String MANIFEST_FILE = "manifest.json";
    static final String CONFIG_FILE = "config.json";
    /** Lets open() detect an edited or truncated manifest, which lists no hash of itself. */
    static final String MANIFEST_SHA_FILE = "manifest.sha256";

    /** The files of a Hugging Face model directory, as {@link LanguageModel#writeHuggingFace} writes them. */
    private static final Pattern HUGGING_FACE_FILE = Pattern.compile(
            "config\\.json|generation_config\\.json|tokenizer(_config)?\\.json|special_tokens_map\\.json"
                    + "|model\\.safetensors(\\.index\\.json)?|model-\\d{5}-of-\\d{5}\\.safetensors");

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /**
     * What a checkpoint is: its lineage and version, the model shape and architecture ({@link LanguageModel#IPT_GPT},
     * whose Hugging Face directory says GPT-2 but which is reopened as ipt's GPT, {@link LanguageModel#GPT2},
     * {@link LanguageModel#LLAMA}, {@link LanguageModel#QWEN2}, or {@link LanguageModel#TORCHSCRIPT}: weights in
     * model.pt), training progress, the Kafka
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

    /** {@link #write(Path, String, Manifest, Training, Map, long)} with weights files of at most 2 GiB. */
    public static Checkpoint write(
            Path root, String dirName, Manifest manifest, Training training, Map<String, byte[]> extraFiles)
            throws IOException {
        return write(root, dirName, manifest, training, extraFiles, DEFAULT_MAX_SHARD_BYTES);
    }

    /**
     * Writes the model (a Hugging Face directory whose weights files hold at most {@code maxShardBytes} each, or a
     * TorchScript archive), its optimizer state and the extra files into a temporary directory beside root/dirName,
     * fsyncs every file and the directory, renames it to root/dirName in one step and fsyncs root: a crash leaves
     * either no checkpoint or a complete one. {@code manifest.files()} is ignored and replaced by the files' hashes.
     * Fails if root/dirName already exists.
     */
    public static Checkpoint write(
            Path root,
            String dirName,
            Manifest manifest,
            Training training,
            Map<String, byte[]> extraFiles,
            long maxShardBytes)
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
        for (String reserved :
                new String[] {MANIFEST_FILE, MANIFEST_SHA_FILE, PARAMS_FILE, TORCHSCRIPT_FILE, OPTIMIZER_FILE}) {
            if (contents.containsKey(reserved)) {
                throw new IllegalArgumentException("extra file may not be named " + reserved);
            }
        }

        Path target = root.resolve(dirName);
        if (Files.exists(target)) {
            throw new FileAlreadyExistsException(target.toString());
        }
        Files.createDirectories(root);
        Path tmp = Files.createTempDirectory(root, "." + dirName + ".tmp-");
        try {
            if (model.architecture().equals(LanguageModel.TORCHSCRIPT)) {
                writeDurably(tmp.resolve(TORCHSCRIPT_FILE), model.parameterBytes());
                writeDurably(tmp.resolve(TOKENIZER_FILE), model.tokenizerJson());
            } else {
                model.writeHuggingFace(tmp, maxShardBytes);
            }
            // Streamed: the AdamW state runs to 8 bytes a parameter, past one array's 2 GiB from about 268M parameters.
            try (OutputStream out = new BufferedOutputStream(
                    Files.newOutputStream(tmp.resolve(OPTIMIZER_FILE), StandardOpenOption.CREATE_NEW), 1 << 20)) {
                training.writeOptimizer(out);
            }
            for (Map.Entry<String, byte[]> file : contents.entrySet()) {
                if (Files.exists(tmp.resolve(file.getKey())))
                    throw new IllegalArgumentException(
                            "extra file may not be named " + file.getKey() + ": the model's directory has one");
                writeDurably(tmp.resolve(file.getKey()), file.getValue());
            }
            Map<String, String> hashes = new TreeMap<>();
            try (Stream<Path> files = Files.list(tmp)) {
                for (Path file : files.toList()) {
                    fsyncFile(file); // the model's files were written without
                    hashes.put(file.getFileName().toString(), sha256(file));
                }
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
        if (manifest.formatVersion() != FORMAT_VERSION && manifest.formatVersion() != PARAMS_FORMAT_VERSION) {
            throw new CheckpointException(
                    MANIFEST_FILE,
                    "format version " + manifest.formatVersion() + ", expected " + PARAMS_FORMAT_VERSION + " or "
                            + FORMAT_VERSION);
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
        for (String required : new String[] {weightsFile(manifest), OPTIMIZER_FILE}) {
            if (!manifest.files().containsKey(required)) {
                throw new CheckpointException(required, "not listed in " + MANIFEST_FILE);
            }
        }
        for (Map.Entry<String, String> file : manifest.files().entrySet()) {
            if (!isSimpleName(file.getKey())) {
                throw new CheckpointException(MANIFEST_FILE, "lists a file outside the checkpoint: " + file.getKey());
            }
            String actual = sha256(dir, file.getKey());
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

    /**
     * The model: weights and tokenizer, ready to score text. The optimizer state is not read. A Hugging Face
     * directory's files are read as they are on disk, verified by {@link #open}.
     */
    public LanguageModel model() throws IOException {
        try {
            if (weightsFile(manifest).equals(CONFIG_FILE))
                return LanguageModel.reopen(dir, manifest.architecture(), manifest.model());
            byte[] tokenizer = manifest.files().containsKey(TOKENIZER_FILE) ? file(TOKENIZER_FILE) : null;
            return LanguageModel.of(manifest.model(), manifest.architecture(), file(weightsFile(manifest)), tokenizer);
        } catch (IOException e) {
            throw new IOException(dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * The model with its optimizer state and step count, to go on training where this checkpoint left off. The
     * optimizer state is streamed from its file and its sha256 verified again as it is read (the directory may change
     * after open): nothing is returned from a file that differs from the manifest.
     */
    public Training training(TrainConfig train) throws IOException {
        LanguageModel model = model();
        Training training = null;
        MessageDigest digest = newDigest();
        try (InputStream in = new BufferedInputStream(
                new DigestInputStream(Files.newInputStream(dir.resolve(OPTIMIZER_FILE)), digest), 1 << 20)) {
            training = Training.resume(model, train, in, manifest.step());
            if (in.read() != -1) throw new IOException(dir.resolve(OPTIMIZER_FILE) + ": bytes after the AdamW state");
            if (!HexFormat.of()
                    .formatHex(digest.digest())
                    .equals(manifest.files().get(OPTIMIZER_FILE)))
                throw new IOException(dir.resolve(OPTIMIZER_FILE) + ": sha256 differs from the manifest");
            return training;
        } catch (IOException | RuntimeException e) {
            if (training != null) training.close();
            else model.close();
            throw e;
        }
    }

    /**
     * Writes the model as a plain Hugging Face directory (no manifest, optimizer state or other file of ipt's) into
     * the existing empty directory {@code target} and fsyncs it; returns each file's sha256. The checkpoint's own
     * files are copied byte for byte and verified against the manifest again (the checkpoint may have changed since
     * it was opened); a format 1 checkpoint's GPT is written out as {@link LanguageModel#writeHuggingFace} writes it.
     * A TorchScript model has no such form and is refused.
     */
    public Map<String, String> writeHuggingFace(Path target) throws IOException {
        if (LanguageModel.TORCHSCRIPT.equals(manifest.architecture()))
            throw new IOException(dir + ": a TorchScript model has no Hugging Face form");
        Map<String, String> written = new TreeMap<>();
        if (manifest.formatVersion() == PARAMS_FORMAT_VERSION) {
            try (LanguageModel model = model()) {
                model.writeHuggingFace(target, DEFAULT_MAX_SHARD_BYTES);
            }
            try (Stream<Path> files = Files.list(target)) {
                for (Path file : files.toList()) written.put(file.getFileName().toString(), sha256(file));
            }
        } else {
            for (Map.Entry<String, String> file : manifest.files().entrySet()) {
                if (!HUGGING_FACE_FILE.matcher(file.getKey()).matches()) continue;
                Path copy = target.resolve(file.getKey());
                Files.copy(dir.resolve(file.getKey()), copy);
                if (!sha256(copy).equals(file.getValue()))
                    throw new IOException(dir.resolve(file.getKey()) + ": sha256 differs from the manifest");
                written.put(file.getKey(), file.getValue());
            }
        }
        for (String name : written.keySet()) fsyncFile(target.resolve(name));
        fsync(target);
        return written;
    }

    /**
     * The file a checkpoint must hold to have a model: the TorchScript archive, DJL's parameter file in a format 1
     * checkpoint, or else the config.json of a Hugging Face directory (whose weights files it names).
     */
    static String weightsFile(Manifest manifest) {
        if (LanguageModel.TORCHSCRIPT.equals(manifest.architecture())) return TORCHSCRIPT_FILE;
        return manifest.formatVersion() == PARAMS_FORMAT_VERSION ? PARAMS_FILE : CONFIG_FILE;
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

    private static void fsyncFile(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.force(true);
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
        MessageDigest digest = newDigest();
        return HexFormat.of().formatHex(digest.digest(bytes));
    }

    /** A file's sha256, read in pieces: weights files run to gigabytes. */
    static String sha256(Path file) throws IOException {
        MessageDigest digest = newDigest();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] piece = new byte[1 << 20];
            for (int n; (n = in.read(piece)) > 0; ) digest.update(piece, 0, n);
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    /** A listed file's sha256, or the refusal naming it. */
    private static String sha256(Path dir, String name) throws CheckpointException {
        try {
            return sha256(dir.resolve(name));
        } catch (NoSuchFileException e) {
            throw new CheckpointException(name, "missing", e);
        } catch (IOException e) {
            throw new CheckpointException(name, "unreadable: " + e, e);
        }
    }

    private static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }
}
