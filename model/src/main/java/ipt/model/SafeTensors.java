package ipt.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Hugging Face's safetensors files: an 8-byte little-endian header length, a JSON header giving each tensor's dtype,
 * shape and byte range, then the raw little-endian bytes; a sharded model lists its files in
 * model.safetensors.index.json. Tensors are read and written in pieces: a Java buffer stops at 2 GiB, a checkpoint
 * (or one embedding) need not. DJL's own codec holds a whole file in one byte[] and writes no {@code __metadata__}
 * {@code format: pt}, without which transformers refuses the file.
 */
final class SafeTensors {

    static final String SINGLE_FILE = "model.safetensors";
    static final String INDEX = "model.safetensors.index.json";
    /** The bound the safetensors library itself puts on a header: a corrupt length is refused before allocating. */
    private static final long MAX_HEADER_BYTES = 100_000_000;
    /** Bytes of a tensor read or written at a time. */
    static final int PIECE_BYTES = 64 << 20;

    private static final ObjectMapper JSON = new ObjectMapper();

    private SafeTensors() {}

    /** The element types read (training is fp32: the halves are widened on reading); writing is F32 only. */
    enum DType {
        F32(4),
        F16(2),
        BF16(2);

        final int bytes;

        DType(int bytes) {
            this.bytes = bytes;
        }
    }

    /** One tensor of a file: its bytes are {@code bytes} long from {@code position} (absolute, in {@code file}). */
    record Entry(String name, DType dtype, Shape shape, Path file, long position, long bytes) {}

    /**
     * The tensors of a model directory: model.safetensors.index.json and the shards it names, or model.safetensors.
     * Every file is checked as {@link #header} checks it, and the index against the shards' own headers.
     */
    static Map<String, Entry> open(Path dir) throws IOException {
        Path index = dir.resolve(INDEX);
        if (!Files.exists(index)) {
            Path single = dir.resolve(SINGLE_FILE);
            if (!Files.exists(single)) throw new IOException(dir + " has neither " + SINGLE_FILE + " nor " + INDEX);
            return header(single);
        }
        JsonNode weightMap = JSON.readTree(index.toFile()).path("weight_map");
        if (!weightMap.isObject() || weightMap.isEmpty()) throw new IOException(index + " has no weight_map");
        Map<String, String> fileByName = new TreeMap<>();
        for (Map.Entry<String, JsonNode> named : weightMap.properties()) {
            String file = named.getValue().asText();
            if (!named.getValue().isTextual() || file.isEmpty() || file.contains("/") || file.contains("\\"))
                throw new IOException(
                        index + " maps " + named.getKey() + " to " + named.getValue() + ", not a file name in " + dir);
            fileByName.put(named.getKey(), file);
        }
        Map<String, Entry> entries = new TreeMap<>();
        for (String file : new TreeSet<>(fileByName.values())) {
            for (Entry entry : header(dir.resolve(file)).values()) {
                if (!file.equals(fileByName.get(entry.name())))
                    throw new IOException(file + " holds " + entry.name() + ", which " + INDEX + " maps to "
                            + fileByName.get(entry.name()));
                entries.put(entry.name(), entry);
            }
        }
        for (Map.Entry<String, String> named : fileByName.entrySet()) {
            if (!entries.containsKey(named.getKey()))
                throw new IOException(
                        INDEX + " maps " + named.getKey() + " to " + named.getValue() + ", whose header lacks it");
        }
        return entries;
    }

    /**
     * The tensors of one file, by name, after checking that the header fits in the file, every dtype is known, every
     * byte range has its shape's size, and the ranges tile the data section without gap or overlap.
     */
    static Map<String, Entry> header(Path file) throws IOException {
        long size = Files.size(file);
        if (size < 8) throw new IOException(file + " is " + size + " bytes, shorter than a safetensors header length");
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long headerBytes =
                    readFully(channel, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (headerBytes < 2 || headerBytes > MAX_HEADER_BYTES || 8 + headerBytes > size)
                throw new IOException(file + ": header of " + headerBytes + " bytes overruns the file of " + size);
            long dataStart = 8 + headerBytes;
            JsonNode header;
            try {
                header = JSON.readTree(readFully(channel, 8, (int) headerBytes).array());
            } catch (IOException e) {
                throw new IOException(file + ": the header is not JSON: " + e.getMessage(), e);
            }
            if (header == null || !header.isObject()) throw new IOException(file + ": the header is not a JSON object");
            List<Entry> entries = new ArrayList<>();
            for (Map.Entry<String, JsonNode> named : header.properties()) {
                if (!named.getKey().equals("__metadata__"))
                    entries.add(entry(file, named.getKey(), named.getValue(), dataStart));
            }
            // The format requires the byte ranges to cover the data exactly: anything else is a damaged file.
            entries.sort(Comparator.comparingLong(Entry::position));
            long expected = dataStart;
            for (Entry entry : entries) {
                if (entry.position() != expected)
                    throw new IOException(file + ": tensor " + entry.name() + " starts at data offset "
                            + (entry.position() - dataStart) + ", the one before it ends at " + (expected - dataStart)
                            + ": the data_offsets leave a gap or overlap");
                expected += entry.bytes();
            }
            if (expected != size)
                throw new IOException(file + ": the tensors end at data offset " + (expected - dataStart)
                        + " but the data section holds " + (size - dataStart) + " bytes");
            Map<String, Entry> byName = new TreeMap<>();
            for (Entry entry : entries) byName.put(entry.name(), entry);
            return byName;
        }
    }

    private static Entry entry(Path file, String name, JsonNode node, long dataStart) throws IOException {
        String dtype = node.path("dtype").asText();
        DType type = Arrays.stream(DType.values())
                .filter(t -> t.name().equals(dtype))
                .findFirst()
                .orElseThrow(() -> new IOException(file + ": tensor " + name + " has dtype '" + dtype + "', not one of "
                        + Arrays.toString(DType.values())));
        JsonNode shapeNode = node.path("shape");
        JsonNode offsets = node.path("data_offsets");
        if (!shapeNode.isArray() || !offsets.isArray() || offsets.size() != 2)
            throw new IOException(file + ": tensor " + name + " lacks a shape or a pair of data_offsets");
        long[] dims = new long[shapeNode.size()];
        long elements = 1;
        for (int i = 0; i < dims.length; i++) {
            dims[i] = shapeNode.get(i).asLong(-1);
            if (!shapeNode.get(i).canConvertToLong() || dims[i] < 0)
                throw new IOException(file + ": tensor " + name + " has shape " + shapeNode);
            elements = Math.multiplyExact(elements, dims[i]);
        }
        long begin = offsets.get(0).asLong(-1), end = offsets.get(1).asLong(-1);
        long needed = Math.multiplyExact(elements, type.bytes);
        if (begin < 0 || end - begin != needed)
            throw new IOException(file + ": tensor " + name + " has data_offsets " + offsets + " (" + (end - begin)
                    + " bytes), its " + dtype + " shape " + shapeNode + " needs " + needed);
        return new Entry(name, type, new Shape(dims), file, dataStart + begin, needed);
    }

    /** The tensor as float32, created in {@code manager}, read {@link #PIECE_BYTES} at a time. */
    static NDArray read(NDManager manager, Entry entry) throws IOException {
        return read(manager, entry, PIECE_BYTES);
    }

    static NDArray read(NDManager manager, Entry entry, int pieceBytes) throws IOException {
        long elements = entry.shape().size();
        long perPiece = Math.max(1, pieceBytes / entry.dtype().bytes);
        try (FileChannel channel = FileChannel.open(entry.file(), StandardOpenOption.READ)) {
            // An array DJL creates from Java memory lives in a buffer only that array object keeps alive: the one
            // returned must be that array, or one the engine allocated (the concatenation), never a view of a piece.
            if (elements <= perPiece) return manager.create(piece(channel, entry, 0, (int) elements), entry.shape());
            try (NDManager pieces = manager.newSubManager()) {
                NDList parts = new NDList();
                for (long from = 0; from < elements; from += perPiece) {
                    parts.add(pieces.create(piece(channel, entry, from, (int) Math.min(perPiece, elements - from))));
                }
                NDArray tensor = NDArrays.concat(parts, 0).reshape(entry.shape());
                tensor.attach(manager);
                return tensor;
            }
        }
    }

    /** {@code n} elements of the tensor from element {@code from}, as float32. */
    private static float[] piece(FileChannel channel, Entry entry, long from, int n) throws IOException {
        int size = entry.dtype().bytes;
        return toFloats(
                readFully(channel, entry.position() + from * size, n * size).order(ByteOrder.LITTLE_ENDIAN),
                entry.dtype(),
                n);
    }

    private static float[] toFloats(ByteBuffer raw, DType dtype, int n) {
        float[] values = new float[n];
        switch (dtype) {
            case F32 -> raw.asFloatBuffer().get(values);
            // bfloat16 is the top half of a float32.
            case BF16 -> {
                for (int i = 0; i < n; i++) values[i] = Float.intBitsToFloat((raw.getShort(2 * i) & 0xFFFF) << 16);
            }
            case F16 -> {
                for (int i = 0; i < n; i++) values[i] = halfToFloat(raw.getShort(2 * i));
            }
        }
        return values;
    }

    /** IEEE 754 binary16 to float32, exactly (Java 17 has no Float.float16ToFloat). */
    static float halfToFloat(short half) {
        int sign = (half & 0x8000) << 16;
        int exponent = (half >>> 10) & 0x1F;
        int mantissa = half & 0x3FF;
        if (exponent == 0x1F) return Float.intBitsToFloat(sign | 0x7F800000 | (mantissa << 13)); // inf, NaN
        if (exponent == 0) {
            float magnitude = mantissa * 0x1p-24f; // zero or subnormal: exact in float32
            return sign == 0 ? magnitude : -magnitude;
        }
        return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
    }

    private static ByteBuffer readFully(FileChannel channel, long position, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining()) {
            if (channel.read(buffer, position + buffer.position()) < 0)
                throw new IOException("the file ends before byte " + (position + length));
        }
        return buffer.flip();
    }

    /**
     * Writes the tensors as float32 into {@code dir}: model.safetensors, or, once they exceed {@code maxShardBytes},
     * model-0000i-of-0000n.safetensors shards filled in name order (a tensor larger than the bound gets a shard to
     * itself) and model.safetensors.index.json. Refuses a directory that already holds safetensors: a stale index or
     * shard would be read with the new ones.
     */
    static void write(Path dir, SortedMap<String, NDArray> tensors, long maxShardBytes) throws IOException {
        write(dir, tensors, maxShardBytes, PIECE_BYTES);
    }

    static void write(Path dir, SortedMap<String, NDArray> tensors, long maxShardBytes, int pieceBytes)
            throws IOException {
        if (maxShardBytes <= 0) throw new IllegalArgumentException("maxShardBytes must be positive: " + maxShardBytes);
        Files.createDirectories(dir);
        try (Stream<Path> files = Files.list(dir)) {
            List<Path> existing = files.filter(f -> f.getFileName().toString().endsWith(".safetensors")
                            || f.getFileName().toString().equals(INDEX))
                    .collect(Collectors.toList());
            if (!existing.isEmpty()) throw new IOException(dir + " already holds " + existing);
        }
        List<List<String>> shards = new ArrayList<>();
        long shardBytes = 0;
        long total = 0;
        for (Map.Entry<String, NDArray> named : tensors.entrySet()) {
            long bytes = named.getValue().size() * Float.BYTES;
            if (shards.isEmpty() || (shardBytes > 0 && shardBytes + bytes > maxShardBytes)) {
                shards.add(new ArrayList<>());
                shardBytes = 0;
            }
            shards.get(shards.size() - 1).add(named.getKey());
            shardBytes += bytes;
            total += bytes;
        }
        if (shards.size() <= 1) {
            writeFile(dir.resolve(SINGLE_FILE), tensors, pieceBytes);
            return;
        }
        ObjectNode index = JSON.createObjectNode();
        index.putObject("metadata").put("total_size", total);
        ObjectNode weightMap = index.putObject("weight_map");
        for (int i = 0; i < shards.size(); i++) {
            String file = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
            SortedMap<String, NDArray> shard = new TreeMap<>();
            for (String name : shards.get(i)) {
                shard.put(name, tensors.get(name));
                weightMap.put(name, file);
            }
            writeFile(dir.resolve(file), shard, pieceBytes);
        }
        JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve(INDEX).toFile(), index);
    }

    private static void writeFile(Path file, SortedMap<String, NDArray> tensors, int pieceBytes) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        header.putObject("__metadata__").put("format", "pt");
        long offset = 0;
        Map<String, Long> begins = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> named : tensors.entrySet()) {
            long bytes = named.getValue().size() * Float.BYTES;
            ObjectNode entry = header.putObject(named.getKey());
            entry.put("dtype", DType.F32.name());
            ArrayNode shape = entry.putArray("shape");
            for (long d : named.getValue().getShape().getShape()) shape.add(d);
            entry.putArray("data_offsets").add(offset).add(offset + bytes);
            begins.put(named.getKey(), offset);
            offset += bytes;
        }
        byte[] json = JSON.writeValueAsBytes(header);
        // Spaces pad the header to a multiple of 8, as the reference writer does, so the data starts aligned.
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            writeFully(channel, head.flip());
            for (NDArray tensor : tensors.values()) writeTensor(channel, tensor, pieceBytes);
        }
    }

    /** The tensor's floats, little-endian, {@code pieceBytes} at a time through slices of its flattened copy. */
    private static void writeTensor(FileChannel channel, NDArray tensor, int pieceBytes) throws IOException {
        long elements = tensor.size();
        long perPiece = Math.max(1, pieceBytes / Float.BYTES);
        try (NDManager pieces = tensor.getManager().newSubManager()) {
            NDArray reshaped = tensor.reshape(elements);
            reshaped.attach(pieces);
            NDArray flat = ComputeDevice.onCpu(reshaped, pieces); // a GPU tensor is written from one CPU copy
            for (long from = 0; from < elements; from += perPiece) {
                long to = Math.min(elements, from + perPiece);
                float[] values;
                try (NDArray piece = flat.get(new NDIndex("{}:{}", from, to))) {
                    values = piece.toFloatArray();
                }
                ByteBuffer bytes =
                        ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
                bytes.asFloatBuffer().put(values);
                writeFully(channel, bytes);
            }
        }
    }

    private static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) channel.write(buffer);
    }
}
