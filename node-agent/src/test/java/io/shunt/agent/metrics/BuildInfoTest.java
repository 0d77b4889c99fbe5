package io.shunt.agent.metrics;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

class BuildInfoTest {

    @Test
    void theBuildFillsInTheVersion() {
        String version = BuildInfo.version();
        assertNotEquals(BuildInfo.UNKNOWN, version, "build.properties is missing from the classpath");
        assertFalse(version.contains("${"), "build.properties was not filtered: " + version);
    }
}
