package ipt.ingest;

import ipt.schemas.AvroSerde;
import ipt.schemas.Document;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Arrays;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * The wire format of a {@link Staged.Candidate} on the dedup repartition topic, which only this topology
 * writes and reads: version byte, source topic, partition, offset, original bytes, Avro document.
 */
final class CandidateSerde {
    private static final byte VERSION = 1;
    private static final AvroSerde<Document> DOCUMENTS = AvroSerde.of(Document.class);

    private CandidateSerde() {}

    static Serde<Staged.Candidate> serde() {
        Serializer<Staged.Candidate> serializer = (topic, candidate) -> candidate == null ? null : encode(candidate);
        Deserializer<Staged.Candidate> deserializer = (topic, bytes) -> bytes == null ? null : decode(bytes);
        return Serdes.serdeFrom(serializer, deserializer);
    }

    static byte[] encode(Staged.Candidate candidate) {
        byte[] document = DOCUMENTS.encode(candidate.document());
        ByteArrayOutputStream buffer =
                new ByteArrayOutputStream(candidate.originalBytes().length + document.length + 64);
        try (DataOutputStream out = new DataOutputStream(buffer)) {
            out.writeByte(VERSION);
            out.writeUTF(candidate.sourceTopic());
            out.writeInt(candidate.sourcePartition());
            out.writeLong(candidate.sourceOffset());
            out.writeInt(candidate.originalBytes().length);
            out.write(candidate.originalBytes());
            out.write(document);
        } catch (IOException e) {
            throw new SerializationException("cannot encode candidate", e);
        }
        return buffer.toByteArray();
    }

    static Staged.Candidate decode(byte[] bytes) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            byte version = in.readByte();
            if (version != VERSION) throw new SerializationException("unknown candidate format version " + version);
            String topic = in.readUTF();
            int partition = in.readInt();
            long offset = in.readLong();
            byte[] original = in.readNBytes(in.readInt());
            int documentStart = bytes.length - in.available();
            Document document = DOCUMENTS.decode(Arrays.copyOfRange(bytes, documentStart, bytes.length));
            return new Staged.Candidate(document, original, topic, partition, offset);
        } catch (IOException e) {
            throw new SerializationException("cannot decode candidate", e);
        }
    }
}
