package ipt.schemas;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.message.SchemaStore;

/**
 * Every schema version a topic payload ever had, so records written by older producers still decode.
 * The files live in {@code ipt/schemas/history/} and are listed in its {@code index.txt}.
 */
public final class SchemaHistory {
    private static final String DIR = "/ipt/schemas/history/";
    private static final SchemaStore.Cache STORE = load();

    private SchemaHistory() {}

    /** Fingerprint → schema for every historical version (the current ones are added by each decoder). */
    public static SchemaStore store() {
        return STORE;
    }

    public static List<Schema> schemas() {
        List<Schema> out = new ArrayList<>();
        try (InputStream index = SchemaHistory.class.getResourceAsStream(DIR + "index.txt");
                BufferedReader lines = new BufferedReader(new InputStreamReader(index, StandardCharsets.UTF_8))) {
            for (String name = lines.readLine(); name != null; name = lines.readLine()) {
                if (name.isBlank()) continue;
                try (InputStream in = SchemaHistory.class.getResourceAsStream(DIR + name.strip())) {
                    if (in == null) throw new IllegalStateException("schema history lists a missing file: " + name);
                    out.add(new Schema.Parser().parse(in));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    private static SchemaStore.Cache load() {
        SchemaStore.Cache cache = new SchemaStore.Cache();
        schemas().forEach(cache::addSchema);
        return cache;
    }
}
