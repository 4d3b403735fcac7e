package ipt.testsupport;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ipt.schemas.Topics;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

class EmbeddedKafkaTest {
    @Test
    void startsCreatesTopicsAndCarriesTransactions() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start();
                Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
            Topics.ensure(admin, Topics.specs(3), (short) 1);
            Topics.ensure(admin, Topics.specs(3), (short) 1);
            assertEquals(
                    3,
                    admin.describeTopics(List.of(Topics.CURATED.name()))
                            .allTopicNames()
                            .get()
                            .get(Topics.CURATED.name())
                            .partitions()
                            .size());
            ConfigResource promotions = new ConfigResource(ConfigResource.Type.TOPIC, Topics.PROMOTIONS.name());
            Config config =
                    admin.describeConfigs(List.of(promotions)).all().get().get(promotions);
            assertEquals("compact", config.get("cleanup.policy").value());

            Map<String, Object> producerProps = Map.of(
                    "bootstrap.servers",
                    kafka.bootstrapServers(),
                    "transactional.id",
                    "t1",
                    "key.serializer",
                    StringSerializer.class,
                    "value.serializer",
                    StringSerializer.class);
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerProps)) {
                producer.initTransactions();
                producer.beginTransaction();
                producer.send(new ProducerRecord<>(Topics.EVALUATIONS.name(), "k", "aborted"));
                producer.abortTransaction();
                producer.beginTransaction();
                producer.send(new ProducerRecord<>(Topics.EVALUATIONS.name(), "k", "committed"));
                producer.commitTransaction();
            }
            Map<String, Object> consumerProps = Map.of(
                    "bootstrap.servers",
                    kafka.bootstrapServers(),
                    "group.id",
                    "g",
                    "isolation.level",
                    "read_committed",
                    "auto.offset.reset",
                    "earliest",
                    "key.deserializer",
                    StringDeserializer.class,
                    "value.deserializer",
                    StringDeserializer.class);
            try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerProps)) {
                consumer.subscribe(List.of(Topics.EVALUATIONS.name()));
                List<String> seen = new java.util.ArrayList<>();
                long deadline = System.currentTimeMillis() + 30_000;
                while (seen.isEmpty() && System.currentTimeMillis() < deadline) {
                    for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) seen.add(r.value());
                }
                assertEquals(List.of("committed"), seen);
            }
        }
    }
}
