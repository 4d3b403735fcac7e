package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ipt.runtime.Settings;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IngestApiConfigTest {
    @TempDir
    Path dir;

    @Test
    void aMissingTokenFileIsOneLineNamingIt() {
        String file = dir.resolve("no-such-token").toString();
        // IllegalArgumentException: `ipt ingest-api` prints its message alone, with no stack trace.
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> IngestApiConfig.fromEnv(Map.of("IPT_INGEST_TOKEN_FILE", file)));
        assertEquals("IPT_INGEST_TOKEN_FILE=" + file + ": must exist", e.getMessage());
    }

    @Test
    void connectionLimitsHaveDefaultsAndAreSettings() {
        IngestApiConfig d = IngestApiConfig.fromEnv(Map.of("IPT_INGEST_TOKEN", "t"));
        assertEquals(4096, d.minRequestBytesPerSecond());
        assertEquals(10_000, d.headerTimeoutMs());
        assertEquals(30_000, d.idleTimeoutMs());
        assertEquals(64, d.maxConcurrentRequests());
        IngestApiConfig c = IngestApiConfig.fromEnv(Map.of(
                "IPT_INGEST_TOKEN",
                "t",
                "IPT_INGEST_MAX_CONCURRENT_REQUESTS",
                "8",
                "IPT_INGEST_HEADER_TIMEOUT_MS",
                "2000",
                "IPT_INGEST_IDLE_TIMEOUT_MS",
                "5000",
                "IPT_INGEST_MIN_REQUEST_BYTES_PER_SECOND",
                "100"));
        assertEquals(8, c.maxConcurrentRequests());
        assertEquals(2000, c.headerTimeoutMs());
        assertEquals(5000, c.idleTimeoutMs());
        assertEquals(100, c.minRequestBytesPerSecond());
        assertThrows(
                IllegalArgumentException.class,
                () -> IngestApiConfig.fromEnv(
                        Map.of("IPT_INGEST_TOKEN", "t", "IPT_INGEST_MAX_CONCURRENT_REQUESTS", "0")));
    }

    @Test
    void statusPortsBindLoopbackUnlessTold() {
        assertEquals("127.0.0.1", IngestApiConfig.SETTINGS.parse(Map.of()).get(Settings.STATUS_BIND));
        assertEquals(
                "0.0.0.0",
                IngestApiConfig.SETTINGS
                        .parse(Map.of("IPT_STATUS_BIND", "0.0.0.0"))
                        .get(Settings.STATUS_BIND));
        assertEquals(
                "::",
                IngestApiConfig.SETTINGS.parse(Map.of("IPT_STATUS_BIND", "::")).get(Settings.STATUS_BIND));
        assertThrows(
                IllegalArgumentException.class,
                () -> IngestApiConfig.SETTINGS.parse(Map.of("IPT_STATUS_BIND", "everywhere")));
    }
}
