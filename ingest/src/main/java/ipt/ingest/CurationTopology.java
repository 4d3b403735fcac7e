package ipt.ingest;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.schemas.Document;
import ipt.schemas.Topic;
import ipt.schemas.Topics;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.state.Stores;

/**
 * The curation topology, as a pure function of its config so the same one is unit-tested and run:
 * {@code ipt.documents.raw} → parse → validate → normalise → quality filter → re-key by content hash →
 * exact dedup → re-key by domain → MinHash near-dup → split into {@code ipt.documents.curated} and
 * {@code ipt.documents.heldout} ({@link HeldOutSplit}: half of a new domain's first documents, then by a hash of the
 * id).
 * Every record dropped on the way goes to {@code ipt.documents.rejected} with its reason and original bytes.
 */
public final class CurationTopology {
    /** Name of the one repartition topic: {@code <application.id>-dedup-by-content-repartition}. */
    static final String DEDUP_REPARTITION = "dedup-by-content";
    /** The near-dup stage's repartition topic: every document of a domain must meet the same band index. */
    static final String NEAR_DUP_REPARTITION = "near-dup-by-domain";

    static final String NEAR_DUP_STORE = "near-dup-bands";
    static final String HELD_OUT_STORE = "held-out-bytes-by-domain";

    private static final String REJECTED = "rejected";
    private static final String ACCEPTED = "accepted";

    private CurationTopology() {}

    /** The topology with metrics kept in a registry of its own (for tests and tools that do not expose them). */
    public static Topology build(CurationConfig config) {
        return build(config, new CurationMetrics(new PrometheusRegistry()));
    }

    public static Topology build(CurationConfig config, CurationMetrics metrics) {
        return build(config, metrics, new StreamThreadDeaths());
    }

    static Topology build(CurationConfig config, CurationMetrics metrics, StreamThreadDeaths deaths) {
        StreamsBuilder builder = new StreamsBuilder();
        DedupMemory.addStores(builder, config.dedupStoreName());

        Map<String, KStream<String, Staged>> parsed = builder.stream(
                        Topics.RAW.name(),
                        Consumed.with(Topics.RAW.keys(), Topics.RAW.values()).withName("raw"))
                .process(() -> new ParseStage(config, metrics, deaths), Named.as("parse"))
                .split(Named.as("parse-"))
                .branch((key, staged) -> staged instanceof Staged.Rejection, Branched.as(REJECTED))
                .defaultBranch(Branched.as(ACCEPTED));

        Map<String, KStream<String, Staged>> deduped = parsed.get("parse-" + ACCEPTED)
                .mapValues(staged -> (Staged.Candidate) staged, Named.as("candidates"))
                .repartition(Repartitioned.with(Serdes.String(), CandidateSerde.serde())
                        .withName(DEDUP_REPARTITION))
                .process(
                        () -> new DedupStage(config.dedupStoreName(), config.dedupHorizon(), metrics),
                        Named.as("dedup"),
                        DedupMemory.stores(config.dedupStoreName()))
                .split(Named.as("dedup-"))
                .branch((key, staged) -> staged instanceof Staged.Rejection, Branched.as(REJECTED))
                .defaultBranch(Branched.as(ACCEPTED));

        // One sink per sub-topology rather than a merge: a merge would fuse the stages around a repartition.
        reject(parsed.get("parse-" + REJECTED), "parse");
        reject(deduped.get("dedup-" + REJECTED), "dedup");

        KStream<String, Staged> unique = deduped.get("dedup-" + ACCEPTED);
        if (config.nearDup().isPresent()) {
            MinHash minHash = new MinHash(config.nearDup().get());
            DedupMemory.addStores(builder, NEAR_DUP_STORE);
            // Keyed by domain so each domain's band index lives in one task: near-dup throughput per domain is one
            // partition's worth, the price of comparing every document with all earlier ones of its domain.
            Map<String, KStream<String, Staged>> nearDeduped = unique.map(
                            (id, staged) -> KeyValue.pair(
                                    ((Staged.Candidate) staged).document().getDomain(), (Staged.Candidate) staged),
                            Named.as("by-domain"))
                    .repartition(Repartitioned.with(Serdes.String(), CandidateSerde.serde())
                            .withName(NEAR_DUP_REPARTITION))
                    .process(
                            () -> new NearDupStage(NEAR_DUP_STORE, config.dedupHorizon(), minHash, metrics),
                            Named.as("near-dup"),
                            DedupMemory.stores(NEAR_DUP_STORE))
                    .split(Named.as("near-dup-"))
                    .branch((key, staged) -> staged instanceof Staged.Rejection, Branched.as(REJECTED))
                    .defaultBranch(Branched.as(ACCEPTED));
            reject(nearDeduped.get("near-dup-" + REJECTED), "near-dup");
            unique = nearDeduped.get("near-dup-" + ACCEPTED);
        }

        builder.addStateStore(Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore(HELD_OUT_STORE), Serdes.String(), Serdes.String()));
        unique.mapValues(staged -> ((Staged.Candidate) staged).document(), Named.as("documents"))
                .processValues(
                        () -> new HeldOutSplit(
                                config.heldoutFraction(), config.newDomainHeldoutBytes(), HELD_OUT_STORE),
                        Named.as("held-out-split"),
                        HELD_OUT_STORE)
                .split(Named.as("split-"))
                .branch(
                        (id, routed) -> routed.heldOut(),
                        Branched.withConsumer(heldout -> publish(heldout, Topics.HELDOUT, metrics), "heldout"))
                .defaultBranch(Branched.withConsumer(curated -> publish(curated, Topics.CURATED, metrics), "curated"));
        return builder.build();
    }

    private static void reject(KStream<String, Staged> rejections, String stage) {
        rejections
                .mapValues(staged -> ((Staged.Rejection) staged).record(), Named.as(stage + "-rejection"))
                .to(
                        Topics.REJECTED.name(),
                        Produced.with(Topics.REJECTED.keys(), Topics.REJECTED.values())
                                .withName(stage + "-to-rejected"));
    }

    private static void publish(
            KStream<String, HeldOutSplit.Routed> routed, Topic<String, Document> topic, CurationMetrics metrics) {
        routed.mapValues(HeldOutSplit.Routed::document, Named.as("unwrap-" + topic.name()))
                .processValues(() -> new Published(topic.name(), metrics), Named.as("count-" + topic.name()))
                .to(topic.name(), Produced.with(topic.keys(), topic.values()).withName("to-" + topic.name()));
    }

    /** Counts a document out and observes its latency: the raw record's timestamp travels with it through
     * repartitions. */
    private static final class Published implements FixedKeyProcessor<String, Document, Document> {
        private final String topic;
        private final CurationMetrics metrics;
        private FixedKeyProcessorContext<String, Document> context;

        Published(String topic, CurationMetrics metrics) {
            this.topic = topic;
            this.metrics = metrics;
        }

        @Override
        public void init(FixedKeyProcessorContext<String, Document> context) {
            this.context = context;
        }

        @Override
        public void process(FixedKeyRecord<String, Document> record) {
            metrics.published(
                    topic, record.value().getDomain(), (context.currentSystemTimeMs() - record.timestamp()) / 1000.0);
            context.forward(record);
        }
    }

    /**
     * The held-out split once a domain's first held-out bytes are in: the first 8 bytes of sha256(id) read as a
     * fraction in [0, 1). Deterministic in the id alone, so a document is held out (never trained on) however often
     * or wherever it is re-sent.
     */
    public static boolean isHeldOut(String documentId, double heldoutFraction) {
        long bits = ByteBuffer.wrap(Sha256.digest(documentId))
                .order(ByteOrder.BIG_ENDIAN)
                .getLong();
        double fraction = (bits >>> 11) * 0x1.0p-53;
        return fraction < heldoutFraction;
    }
}
