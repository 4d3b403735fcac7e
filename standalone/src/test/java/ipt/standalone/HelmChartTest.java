package ipt.standalone;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * helm/test/check.sh: `helm lint --strict` and `helm template` of helm/ipt over its default values and every
 * ci/*.yaml with a real helm binary, every rendered manifest validated against the Kubernetes schemas, and bad
 * values refused by values.schema.json. Needs npm and node (.ci/run installs them); skipped without.
 */
class HelmChartTest {
    @Test
    void theChartLintsRendersAndValidates() throws Exception {
        assumeTrue(
                Files.isExecutable(Path.of("/usr/bin/npm")) && Files.isExecutable(Path.of("/usr/bin/node")),
                "npm and node are not installed");
        Path script = Path.of("..", "helm", "test", "check.sh").toAbsolutePath().normalize();
        Process p = new ProcessBuilder("bash", script.toString())
                .redirectErrorStream(true)
                .start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(10, TimeUnit.MINUTES);
        System.out.println(output);
        assertEquals(0, p.exitValue(), output);
    }
}
