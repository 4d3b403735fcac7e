package ipt.model;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A network (the ipt GPT, a Hugging Face GPT-2, Llama or Qwen2 model, or a TorchScript module a lineage started from)
 * with its weights and the tokenizer it reads text with: what a checkpoint holds besides training state. It scores
 * text forward only ({@link Scoring}); {@link Training} trains it.
 */
public final class LanguageModel implements AutoCloseable {

    /** The GPT of {@link Gpt}, built from a {@link GptConfig}. */
    public static final String IPT_GPT = "ipt-gpt";
    /** A TorchScript module started from (see {@link #fromTorchScript}). */
    public static final String TORCHSCRIPT = "torchscript";
    /** Hugging Face's GPT2LMHeadModel (see {@link #fromHuggingFace}). */
    public static final String GPT2 = HfConfig.GPT2;
    /** Hugging Face's LlamaForCausalLM. */
    public static final String LLAMA = HfConfig.LLAMA;
    /** Hugging Face's Qwen2ForCausalLM. */
    public static final String QWEN2 = HfConfig.QWEN2;

    static final String CONFIG_JSON = "config.json";
    static final String TOKENIZER_JSON = "tokenizer.json";
    static final String GENERATION_CONFIG_JSON = "generation_config.json";
    /** Files of a Hugging Face directory that only its users read: carried from import to export unchanged. */
    private static final List<String> CARRIED_FILES =
            List.of(GENERATION_CONFIG_JSON, "tokenizer_config.json", "special_tokens_map.json");
    /** Token and position embeddings: the GPT's wte and wpe, or a TorchScript module's *emb*.weight. */
    static final Pattern EMBEDDING = Pattern.compile("wte|wpe|(?:.*\\.)?(?:wte|wpe|\\w*emb\\w*)\\.weight");
    /** A parameter of block i: DJL's "NNh<i>_..." in the GPT, "h.<i>.", "blocks.<i>." or "layers.<i>." in a
     * TorchScript module. */
    private static final Pattern NUMBERED_BLOCK =
            Pattern.compile("(?:\\d*h(\\d+)_|(?:.*\\.)?(?:h|blocks|layers|layer)\\.(\\d+)\\.).*");
    /**
     * Training steps in one JVM take turns: DJL's PyTorch engine allows one active GradientCollector per JVM.
     * Forward-only evaluation needs only its model's own lock, so a candidate is scored while a trainer trains.
     */
    static final Object ENGINE = new Object();

    private final GptConfig config;
    final Model model;
    private final String architecture;
    final Block net; // Gpt, or the TorchScript module
    private final Tokenizer tokenizer;
    private final byte[] tokenizerJson; // null for bytes
    private final HfConfig hfConfig; // null unless a Hugging Face architecture
    private final Map<String, byte[]> carriedFiles; // of CARRIED_FILES, those the imported directory had
    // Reused by one step or evaluation at a time: the model's lock.
    final Staging inputBuffer = new Staging();
    final Staging targetBuffer = new Staging();

    /** Builds the network in the model's manager, with its weights loaded or its initializers seeded. */
    private interface NetBuilder {
        Block build(Model model) throws IOException, MalformedModelException;
    }

    private LanguageModel(
            GptConfig config,
            String architecture,
            byte[] tokenizerJson,
            int eos,
            HfConfig hfConfig,
            Map<String, byte[]> carriedFiles,
            NetBuilder builder)
            throws IOException, MalformedModelException {
        this.config = config;
        this.architecture = architecture;
        this.tokenizerJson = tokenizerJson;
        this.hfConfig = hfConfig;
        this.carriedFiles = Map.copyOf(carriedFiles);
        synchronized (ENGINE) {
            // Every weight, and every array a step or a score makes from the model's manager, lives on this device.
            model = Model.newInstance("ipt-" + architecture, ComputeDevice.selected(), "PyTorch");
            Tokenizer loadedTokenizer = null;
            try {
                loadedTokenizer = tokenizerJson == null ? Tokenizer.BYTES : HuggingFaceJson.of(tokenizerJson, eos);
                net = builder.build(model);
                model.setBlock(net);
                // As DJL's Trainer.initialize does it: fresh GPT weights come from the seeded initializers here.
                net.initialize(model.getNDManager(), model.getDataType(), new Shape(1, config.contextLength()));
                tokenizer = loadedTokenizer;
            } catch (Exception e) {
                if (loadedTokenizer != null) loadedTokenizer.close();
                model.close();
                throw e;
            }
        }
    }

    /** ipt's GPT, its weights from DJL's parameter file or, when null, drawn from {@code seed}. */
    private static NetBuilder gpt(GptConfig config, long seed, byte[] weights) {
        return model -> {
            Gpt gpt = new Gpt(config);
            gpt.seedInitializers(seed);
            if (weights != null) {
                // Loaded parameters count as initialised: initialize keeps them.
                gpt.loadParameters(model.getNDManager(), new DataInputStream(new ByteArrayInputStream(weights)));
            }
            return gpt;
        };
    }

    /** A TorchScript archive's module with every parameter trainable (DJL's trainParam); libtorch reads it from a
     * file. */
    private static PtSymbolBlock torchScript(PtNDManager manager, byte[] archive) throws IOException {
        Path file = Files.createTempFile("ipt-torchscript-", ".pt");
        try {
            Files.write(file, archive);
            return JniUtils.loadModule(manager, file, true, new String[0], new String[0], true);
        } finally {
            Files.delete(file);
        }
    }

    /** Fresh weights, deterministic from {@code seed}. */
    public static LanguageModel create(GptConfig config, long seed) {
        try {
            return new LanguageModel(config, IPT_GPT, null, -1, null, Map.of(), gpt(config, seed, null));
        } catch (IOException | MalformedModelException e) {
            throw new IllegalStateException("nothing is read when creating a model", e);
        }
    }

    /**
     * An existing model to continue: a TorchScript module mapping (B, T) int64 ids to (B, T, V) logits, trained
     * as is, and the HuggingFace tokenizer.json it reads text with. The vocabulary is the tokenizer's; context
     * length, width and depth are {@code declared}'s and are checked against the module: a forward pass over the
     * full context must give the tokenizer's vocabulary, a (V, dModel) embedding must exist, and the module must
     * number nLayers blocks. The head count is taken as declared (it only enters FLOP estimates).
     */
    public static LanguageModel fromTorchScript(Path module, Path tokenizerJson, GptConfig declared)
            throws IOException {
        byte[] tokenizer = Files.readAllBytes(tokenizerJson);
        int vocabSize;
        try (Tokenizer t = HuggingFaceJson.of(tokenizer)) {
            vocabSize = t.vocabSize();
        }
        GptConfig config = new GptConfig(
                vocabSize, declared.contextLength(), declared.dModel(), declared.nLayers(), declared.nHeads());
        LanguageModel loaded;
        try {
            byte[] archive = Files.readAllBytes(module);
            loaded = new LanguageModel(
                    config,
                    TORCHSCRIPT,
                    tokenizer,
                    -1,
                    null,
                    Map.of(),
                    model -> torchScript((PtNDManager) model.getNDManager(), archive));
        } catch (MalformedModelException e) {
            throw new IOException(module + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new IOException(module + " is not a TorchScript archive libtorch can load: " + e.getMessage(), e);
        }
        try {
            loaded.checkShape(module);
            return loaded;
        } catch (IOException | RuntimeException e) {
            loaded.close();
            throw e;
        }
    }

    private void checkShape(Path module) throws IOException {
        Set<Integer> blocks = new TreeSet<>();
        boolean embedding = false;
        for (Pair<String, Parameter> named : net.getParameters()) {
            Shape shape = named.getValue().getArray().getShape();
            embedding |= shape.equals(new Shape(config.vocabSize(), config.dModel()));
            int block = blockIndex(named.getKey());
            if (block >= 0) blocks.add(block);
        }
        if (!embedding)
            throw new IOException(module + " has no (" + config.vocabSize() + ", " + config.dModel()
                    + ") embedding: vocabulary or width differ");
        if (blocks.size() != config.nLayers())
            throw new IOException(
                    module + " has " + blocks.size() + " numbered blocks, " + config + " declares " + config.nLayers());
        Shape logits;
        synchronized (ENGINE) {
            try (NDManager manager = model.getNDManager().newSubManager()) {
                logits = net.forward(
                                new ParameterStore(manager, false),
                                new NDList(manager.create(
                                        new long[config.contextLength()], new Shape(1, config.contextLength()))),
                                false)
                        .singletonOrThrow()
                        .getShape();
            } catch (RuntimeException e) {
                throw new IOException(
                        module + " cannot run on (1, " + config.contextLength() + ") ids: "
                                + e.getMessage().lines().findFirst().orElse(""),
                        e);
            }
        }
        Shape expected = new Shape(1, config.contextLength(), config.vocabSize());
        if (!logits.equals(expected))
            throw new IOException(
                    module + " maps (1, " + config.contextLength() + ") ids to " + logits + ", expected " + expected);
    }

    /**
     * A model from its saved parts: {@code weights} as {@link #parameterBytes} wrote them for {@code architecture},
     * and the tokenizer.json it reads text with (null for bytes).
     */
    public static LanguageModel of(GptConfig config, String architecture, byte[] weights, byte[] tokenizerJson)
            throws IOException {
        NetBuilder builder;
        if (architecture.equals(IPT_GPT)) {
            builder = gpt(config, 0, weights);
        } else if (architecture.equals(TORCHSCRIPT)) {
            builder = model -> torchScript((PtNDManager) model.getNDManager(), weights);
        } else {
            throw new IOException("unknown architecture " + architecture + " (expected " + IPT_GPT + " or "
                    + TORCHSCRIPT + "; Hugging Face models load with fromHuggingFace)");
        }
        try {
            return new LanguageModel(config, architecture, tokenizerJson, -1, null, Map.of(), builder);
        } catch (MalformedModelException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    /** {@link #fromHuggingFace(Path, int)} over the model's whole context (n_positions, max_position_embeddings). */
    public static LanguageModel fromHuggingFace(Path dir) throws IOException {
        return fromHuggingFace(dir, HfConfig.parse(read(dir, CONFIG_JSON)).maxPositions());
    }

    /**
     * A Hugging Face model directory: config.json (GPT2LMHeadModel, LlamaForCausalLM or Qwen2ForCausalLM), its
     * weights in model.safetensors or shards listed by model.safetensors.index.json (F32, F16 or BF16, held as
     * float32), and the tokenizer.json it reads text with; documents end with config.json's eos_token_id. Trained and
     * scored over windows of {@code contextLength} tokens (at most the model's own context). An architecture or a
     * setting not built here, and a tensor missing, extra or of the wrong shape, are refused with the reason.
     */
    public static LanguageModel fromHuggingFace(Path dir, int contextLength) throws IOException {
        HfDirectory read = HfDirectory.read(dir);
        HfConfig hf = read.config();
        Map<String, SafeTensors.Entry> tensors = read.tensors();
        byte[] tokenizer = read.tokenizer();
        if (contextLength < 1 || contextLength > hf.maxPositions())
            throw new IllegalArgumentException(
                    "context length " + contextLength + " outside 1.." + hf.maxPositions() + " of " + dir);
        Map<String, byte[]> carried = new HashMap<>();
        for (String file : CARRIED_FILES) {
            if (Files.exists(dir.resolve(file))) carried.put(file, Files.readAllBytes(dir.resolve(file)));
        }
        try {
            return new LanguageModel(
                    hf.gptConfig(contextLength), hf.modelType(), tokenizer, hf.eosTokenId(), hf, carried, model -> {
                        HfDecoder decoder = HfDecoder.of(hf);
                        decoder.load(tensors, model.getNDManager());
                        return decoder;
                    });
        } catch (IOException | MalformedModelException e) {
            throw new IOException(dir + ": " + e.getMessage(), e);
        }
    }

    /** A Hugging Face directory's config.json, its weights (not yet read) and its tokenizer.json. */
    private record HfDirectory(HfConfig config, Map<String, SafeTensors.Entry> tensors, byte[] tokenizer) {
        static HfDirectory read(Path dir) throws IOException {
            try {
                return new HfDirectory(
                        HfConfig.parse(LanguageModel.read(dir, CONFIG_JSON)),
                        SafeTensors.open(dir),
                        LanguageModel.read(dir, TOKENIZER_JSON));
            } catch (IOException e) {
                throw new IOException(dir + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * A model {@link #writeHuggingFace} wrote, as the {@code architecture} of {@code config} it was. ipt's GPT comes
     * back as ipt's GPT, not as the GPT2LMHeadModel transformers sees: the same parameters under the same paths (which
     * the optimizer state is keyed by) and the same arithmetic, so training goes on bit for bit; it reads bytes when
     * its tokenizer.json is the byte-level one {@link #writeHuggingFace} gives a byte model. The Hugging Face
     * architectures come back as {@link #fromHuggingFace(Path, int)} reads them. A directory whose config.json
     * describes another model than {@code config} is refused.
     */
    public static LanguageModel reopen(Path dir, String architecture, GptConfig config) throws IOException {
        if (!Set.of(IPT_GPT, GPT2, LLAMA, QWEN2).contains(architecture))
            throw new IOException(dir + ": a " + architecture + " model is not kept as a Hugging Face directory");
        LanguageModel reopened;
        if (architecture.equals(IPT_GPT)) {
            reopened = iptGptOf(dir, config);
        } else {
            reopened = fromHuggingFace(dir, config.contextLength());
        }
        if (!reopened.architecture.equals(architecture) || !reopened.config.equals(config)) {
            reopened.close();
            throw new IOException(dir + " holds a " + reopened.architecture + " " + reopened.config + ", expected a "
                    + architecture + " " + config);
        }
        return reopened;
    }

    private static LanguageModel iptGptOf(Path dir, GptConfig config) throws IOException {
        HfDirectory read = HfDirectory.read(dir);
        HfConfig hf = read.config();
        Map<String, SafeTensors.Entry> tensors = read.tensors();
        byte[] tokenizer = read.tokenizer();
        if (!hf.modelType().equals(GPT2)
                || !hf.gptConfig(config.contextLength()).equals(config))
            throw new IOException(dir + "'s config.json describes a " + hf.modelType() + " "
                    + hf.gptConfig(config.contextLength()) + ", not ipt's GPT " + config);
        byte[] tokenizerJson = Arrays.equals(tokenizer, HuggingFaceJson.byteLevelJson()) ? null : tokenizer;
        try {
            return new LanguageModel(config, IPT_GPT, tokenizerJson, hf.eosTokenId(), null, Map.of(), model -> {
                Gpt gpt = new Gpt(config);
                gpt.useGpt2Weights(HfDecoder.of(hf).held(tensors, model.getNDManager()));
                return gpt;
            });
        } catch (IOException | MalformedModelException e) {
            throw new IOException(dir + ": " + e.getMessage(), e);
        }
    }

    private static byte[] read(Path dir, String file) throws IOException {
        Path path = dir.resolve(file);
        if (!Files.exists(path)) throw new IOException(dir + " has no " + file);
        return Files.readAllBytes(path);
    }

    /**
     * Writes this model as a Hugging Face directory transformers loads: config.json, the weights as float32
     * model.safetensors (shards of at most {@code maxShardBytes} and model.safetensors.index.json past that),
     * tokenizer.json and generation_config.json (with the other files an imported directory had for its users).
     * ipt's GPT is written as GPT2LMHeadModel, with a byte-level tokenizer.json when it reads bytes; a TorchScript
     * module has no such form and is refused. {@code dir} must hold no safetensors yet.
     */
    public void writeHuggingFace(Path dir, long maxShardBytes) throws IOException {
        HfConfig hf;
        HfDecoder layout;
        byte[] tokenizerFile;
        synchronized (ENGINE) {
            Map<String, NDArray> weights;
            if (net instanceof HfDecoder decoder) {
                hf = hfConfig;
                layout = decoder;
                weights = decoder.weights();
                tokenizerFile = tokenizerJson;
            } else if (net instanceof Gpt gpt) {
                hf = HfConfig.gpt2Of(config, tokenizer.eos());
                layout = HfDecoder.of(hf); // its parameters' names and layout only: no weights
                weights = gpt.gpt2Weights();
                tokenizerFile = tokenizerJson == null ? HuggingFaceJson.byteLevelJson() : tokenizerJson;
            } else {
                throw new IOException("a " + architecture + " model has no Hugging Face form");
            }
            try (NDManager export = model.getNDManager().newSubManager()) {
                SafeTensors.write(dir, layout.checkpointTensors(weights, export), maxShardBytes);
            }
        }
        Files.write(dir.resolve(CONFIG_JSON), hf.toJson());
        Files.write(dir.resolve(TOKENIZER_JSON), tokenizerFile);
        Map<String, byte[]> files = new TreeMap<>(carriedFiles);
        files.putIfAbsent(GENERATION_CONFIG_JSON, hf.generationConfigJson());
        for (Map.Entry<String, byte[]> file : files.entrySet())
            Files.write(dir.resolve(file.getKey()), file.getValue());
    }

    /** {@link #IPT_GPT}, {@link #TORCHSCRIPT}, {@link #GPT2}, {@link #LLAMA} or {@link #QWEN2}. */
    public String architecture() {
        return architecture;
    }

    /** How this model reads text; closed with the model. */
    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** The tokenizer.json the model reads text with, or null for bytes. */
    public byte[] tokenizerJson() {
        return tokenizerJson;
    }

    public GptConfig config() {
        return config;
    }

    /** Where the weights live and the model computes ({@link ComputeDevice#selected} when it was built). */
    public Device device() {
        return model.getNDManager().getDevice();
    }

    public long parameterCount() {
        long count = 0;
        for (Pair<String, Parameter> named : net.getParameters()) {
            count += named.getValue().getArray().size();
        }
        return count;
    }

    /** The number of the transformer block a parameter belongs to, or -1 outside the blocks. */
    static int blockIndex(String path) {
        Matcher m = NUMBERED_BLOCK.matcher(path);
        if (!m.matches()) return -1;
        return Integer.parseInt(m.group(1) != null ? m.group(1) : m.group(2));
    }

    /**
     * {@code shape.size()} ids from {@code values[from..]} as an int64 array over the model's own direct buffer, at
     * the same offset. DJL would copy each array into a fresh direct buffer that the tensor lives in
     * (from_blob) and that only a garbage collection frees: resident memory crept up step after step. The buffer
     * is reused by the next step or evaluation (one at a time per model: the model's lock) once this one's
     * manager has closed.
     */
    static NDArray staged(NDManager manager, Staging staging, long[] values, int from, Shape shape) {
        int n = Math.toIntExact(shape.size());
        ByteBuffer buffer = staging.reserve(values.length)
                .slice(from * Long.BYTES, n * Long.BYTES)
                .order(ByteOrder.nativeOrder());
        buffer.asLongBuffer().put(values, from, n);
        return manager.create(buffer, shape, DataType.INT64);
    }

    /** A direct buffer that grows to the largest batch seen. */
    static final class Staging {
        private ByteBuffer buffer = ByteBuffer.allocateDirect(0);

        ByteBuffer reserve(int longs) {
            if (buffer.capacity() < longs * Long.BYTES)
                buffer = ByteBuffer.allocateDirect(longs * Long.BYTES).order(ByteOrder.nativeOrder());
            return buffer;
        }
    }

    long token(int id) {
        if (id < 0 || id >= config.vocabSize()) {
            throw new IllegalArgumentException("token id " + id + " outside vocabulary of " + config.vocabSize());
        }
        return id;
    }

    /**
     * Moves every weight to {@code keep × this + (1 − keep) × other} (weight-space ensembling, WiSE-FT); the
     * optimizer state and step count stay those of the model's {@link Training}.
     */
    public void interpolate(LanguageModel other, float keep) {
        if (!other.config.equals(config))
            throw new IllegalArgumentException("other is a " + other.config + ", this a " + config);
        synchronized (ENGINE) {
            Map<String, NDArray> theirs = new HashMap<>();
            for (Pair<String, Parameter> named : other.net.getParameters())
                theirs.put(named.getKey(), named.getValue().getArray());
            NDManager manager = model.getNDManager();
            for (Pair<String, Parameter> named : net.getParameters()) {
                NDArray w = named.getValue().getArray();
                NDArray o = theirs.get(named.getKey());
                try (NDArray copy = manager.create(ComputeDevice.floats(o), o.getShape());
                        NDArray toward = copy.sub(w)) {
                    w.addi(toward.muli(1 - keep));
                }
            }
        }
    }

    /**
     * Mean nats per predicted token over all sequences (each 2..contextLength+1 tokens; shorter ones are
     * padded and the padding masked). Eval mode, no gradients, 16 sequences per forward pass.
     */
    public double loss(List<int[]> sequences) {
        return Scoring.loss(this, sequences);
    }

    /**
     * For each sequence, the nats of its tokens from index {@code scoredFrom[i]} (at least 1) to its end, each
     * predicted from all tokens before it: minus the log-likelihood of a continuation given its context.
     * Forward only, no gradients, 16 sequences per pass. Other models may train meanwhile on other threads;
     * this model's own steps wait.
     */
    public double[] continuationNats(List<int[]> sequences, int[] scoredFrom) {
        return Scoring.continuationNats(this, sequences, scoredFrom);
    }

    /** The path of the first parameter that holds a NaN or an infinity, if one does: such weights are never
     * promoted. */
    public Optional<String> nonFiniteParameter() {
        for (Map.Entry<String, float[]> named : parameterValuesByPath().entrySet()) {
            for (float v : named.getValue()) {
                if (!Float.isFinite(v)) return Optional.of(named.getKey());
            }
        }
        return Optional.empty();
    }

    /** Every parameter's values by path, copied to the heap, in path order. */
    Map<String, float[]> parameterValuesByPath() {
        Map<String, float[]> values = new TreeMap<>();
        synchronized (ENGINE) {
            for (Pair<String, Parameter> named : net.getParameters())
                values.put(named.getKey(), ComputeDevice.floats(named.getValue().getArray()));
        }
        return values;
    }

    /** All parameters' values, concatenated in path order. */
    float[] parameterValues() {
        Map<String, float[]> byPath = parameterValuesByPath();
        float[] all = new float[byPath.values().stream().mapToInt(v -> v.length).sum()];
        int at = 0;
        for (float[] v : byPath.values()) {
            System.arraycopy(v, 0, all, at, v.length);
            at += v.length;
        }
        return all;
    }

    /** The weights as {@link #of} reads them: a TorchScript archive, or DJL's parameter file. */
    public byte[] parameterBytes() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        synchronized (ENGINE) {
            try (DataOutputStream out = new DataOutputStream(bytes)) {
                if (net instanceof PtSymbolBlock module) {
                    JniUtils.writeModule(module, out, false); // a TorchScript archive torch.jit.load reads
                } else {
                    net.saveParameters(out);
                }
            }
        }
        return bytes.toByteArray();
    }

    @Override
    public void close() {
        synchronized (ENGINE) {
            synchronized (this) {
                model.close();
            }
        }
        tokenizer.close();
    }
}
