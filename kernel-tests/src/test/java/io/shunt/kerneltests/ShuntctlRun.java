package io.shunt.kerneltests;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.shunt.cli.Shuntctl;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One shuntctl invocation in this JVM: its exit code, stdout and stderr, with assertions on them. */
record ShuntctlRun(int exit, String out, String err) {
    private static final ObjectMapper JSON = new ObjectMapper();

    static ShuntctlRun of(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        var cl = Shuntctl.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        return new ShuntctlRun(exit, out.toString(), err.toString());
    }

    ShuntctlRun assertExit(int expected) {
        assertEquals(expected, exit, "exit code; stdout:\n" + out + "\nstderr:\n" + err);
        return this;
    }

    ShuntctlRun assertOut(String... fragments) {
        for (String f : fragments) {
            assertTrue(out.contains(f), "'" + f + "' missing from stdout:\n" + out + "\nstderr:\n" + err);
        }
        return this;
    }

    /** The error is one line, starting with {@code shuntctl: }, containing {@code fragment}. */
    ShuntctlRun assertErrLine(String fragment) {
        String first = err.lines().findFirst().orElse("");
        assertTrue(first.startsWith("shuntctl: ") && first.contains(fragment), "stderr:\n" + err);
        return this;
    }

    JsonNode json() {
        try {
            return JSON.readTree(out);
        } catch (IOException e) {
            throw new UncheckedIOException("shuntctl printed no JSON: " + out + err, e);
        }
    }
}
