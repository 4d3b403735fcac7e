package ipt.trainer;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Packs documents into fixed-length training sequences, EOS after every document. Every token lands
 * in exactly one sequence; what does not fill a sequence yet is the tail, carried in the checkpoint.
 * A sequence belongs to the domain of the document it starts in.
 */
final class Packer {
    record Sequence(String domain, int[] tokens) {}

    /** Where a document of some domain starts in the buffer. */
    private record Segment(int start, String domain) {}

    private final int sequenceLength;
    private final int eos;
    private int[] buffer;
    private int size;
    private final List<Segment> segments = new ArrayList<>();

    /** {@code eos}: the tokenizer's end-of-text id, put after every document. */
    Packer(int sequenceLength, int eos) {
        this.sequenceLength = sequenceLength;
        this.eos = eos;
        this.buffer = new int[sequenceLength * 4];
    }

    void add(String domain, int[] documentTokens) {
        int needed = size + documentTokens.length + 1;
        if (needed > buffer.length) buffer = Arrays.copyOf(buffer, Math.max(needed, buffer.length * 2));
        segments.add(new Segment(size, domain));
        System.arraycopy(documentTokens, 0, buffer, size, documentTokens.length);
        size += documentTokens.length;
        buffer[size++] = eos;
    }

    int fullSequences() {
        return size / sequenceLength;
    }

    int tokens() {
        return size;
    }

    /** Removes and returns up to {@code max} full sequences from the front. */
    List<Sequence> take(int max) {
        int n = Math.min(max, fullSequences());
        List<Sequence> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int start = i * sequenceLength;
            out.add(new Sequence(domainAt(start), Arrays.copyOfRange(buffer, start, start + sequenceLength)));
        }
        int used = n * sequenceLength;
        if (used > 0) {
            String carried = size > used ? domainAt(used) : null;
            segments.removeIf(s -> s.start() < used);
            segments.replaceAll(s -> new Segment(s.start() - used, s.domain()));
            if (carried != null && (segments.isEmpty() || segments.get(0).start() > 0))
                segments.add(0, new Segment(0, carried));
            System.arraycopy(buffer, used, buffer, 0, size - used);
            size -= used;
        }
        return out;
    }

    private String domainAt(int position) {
        String domain = segments.get(0).domain();
        for (Segment s : segments) {
            if (s.start() > position) break;
            domain = s.domain();
        }
        return domain;
    }

    /** The tail (tokens not yet in a full sequence, with their domains) as bytes for the checkpoint. */
    byte[] tailBytes() {
        try (ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(segments.size());
            for (Segment s : segments) {
                out.writeInt(s.start());
                out.writeUTF(s.domain());
            }
            out.writeInt(size);
            for (int i = 0; i < size; i++) out.writeShort(buffer[i]);
            out.flush();
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Packer fromTail(int sequenceLength, int eos, byte[] tail) {
        Packer packer = new Packer(sequenceLength, eos);
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(tail))) {
            int segments = in.readInt();
            for (int i = 0; i < segments; i++) packer.segments.add(new Segment(in.readInt(), in.readUTF()));
            int size = in.readInt();
            if (size > packer.buffer.length) packer.buffer = new int[size * 2];
            for (int i = 0; i < size; i++) packer.buffer[i] = in.readUnsignedShort();
            packer.size = size;
            return packer;
        } catch (IOException e) {
            throw new UncheckedIOException("corrupt packer tail", e);
        }
    }

    static byte[] encodeTokens(int[] tokens) {
        ByteBuffer out = ByteBuffer.allocate(tokens.length * 2);
        for (int t : tokens) out.putShort((short) t);
        return out.array();
    }

    static int[] decodeTokens(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        int[] tokens = new int[bytes.length / 2];
        for (int i = 0; i < tokens.length; i++) tokens[i] = Short.toUnsignedInt(in.getShort());
        return tokens;
    }
}
