package io.shunt.cni;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One in-process run of {@link CniPlugin#run} and what it printed. */
record PluginRun(int exit, String stdout, String stderr) {
    static final ObjectMapper JSON = new ObjectMapper();

    static PluginRun run(Map<String, String> env, String stdin) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = CniPlugin.run(env, new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new PluginRun(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** CNI_COMMAND plus the container variables a runtime sets for ADD; more pairs override or add. */
    static Map<String, String> env(String command, String... more) {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("CNI_COMMAND", command);
        env.put("CNI_CONTAINERID", "c0ffee0123456789");
        env.put("CNI_NETNS", "/var/run/netns/cni-1234");
        env.put("CNI_IFNAME", "eth0");
        env.put("CNI_PATH", "/opt/cni/bin");
        for (int i = 0; i < more.length; i += 2) {
            if (more[i + 1] == null) {
                env.remove(more[i]);
            } else {
                env.put(more[i], more[i + 1]);
            }
        }
        return env;
    }

    /** stdout as the one JSON document it must be. */
    JsonNode json() {
        try {
            return JSON.readTree(stdout);
        } catch (IOException e) {
            throw new UncheckedIOException("stdout is not one JSON document:\n" + stdout + "\nstderr:\n" + stderr, e);
        }
    }

    /** Asserts the spec's error object with this code on stdout, alone, and a failing exit status. */
    JsonNode assertError(int code, String cniVersion) {
        assertNotEquals(0, exit, "exit status of a failed command; stdout:\n" + stdout);
        assertEquals(1, stdout.lines().count(), "stdout holds the error object and nothing else:\n" + stdout);
        JsonNode error = json();
        assertEquals(code, error.path("code").asInt(), "error code in " + error);
        assertEquals(cniVersion, error.path("cniVersion").asText(), "cniVersion of " + error);
        assertTrue(error.path("msg").isTextual() && !error.path("msg").asText().isBlank(), "msg in " + error);
        assertTrue(error.path("details").isTextual(), "details in " + error);
        return error;
    }

    void assertSuccessWithoutOutput() {
        assertEquals(0, exit, "exit status; stdout:\n" + stdout + "\nstderr:\n" + stderr);
        assertEquals("", stdout, "stdout of a command without a result");
    }

    String msg() {
        return json().path("msg").asText();
    }
}
