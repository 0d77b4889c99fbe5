package io.shunt.agent.standalone;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.shunt.agent.OptOut;
import io.shunt.agent.registry.PodSpec;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent's command line, from whoever writes a unit file or a DaemonSet: bad arguments end with
 * exit status 2 and one line {@code shunt-agent: <what is wrong>} on stderr (picocli's own errors
 * add one "Try 'shunt-agent --help'." line), never an exception; --help and --version exit 0.
 *
 * <p>An input is the arguments separated by NUL, as in argv. An agent must never start here (it
 * needs the kernel): the arguments that could give it something to serve, {@code --pod} and
 * {@code --cni-socket}, are dropped, and so are {@code @FILE} (picocli would read any file) and
 * the {@code uninstall-cni} subcommand (it rewrites a CNI configuration directory). Every argument
 * is also fed directly to the parsers the command line uses, {@link PodSpec#parse} among them,
 * which return a value or throw an IllegalArgumentException with a message. Seeds and findings:
 * {@code AgentCommandLineFuzzTestInputs/badArgumentsExitTwoWithOneLine/}.
 */
class AgentCommandLineFuzzTest {
    private static final String TRY_HELP = "Try 'shunt-agent --help'.";

    @FuzzTest(maxDuration = "5s")
    void badArgumentsExitTwoWithOneLine(byte[] input) {
        String[] given = new String(input, StandardCharsets.UTF_8).split("\0", -1);
        for (String arg : given) {
            parsesOrSaysWhy(arg);
        }
        String[] args = withoutWhatCouldStartAnAgent(given);

        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = StandaloneMain.commandLine(new StandaloneMain())
                .setOut(new PrintWriter(out, true))
                .setErr(new PrintWriter(err, true))
                .execute(args);

        String stderr = err.toString();
        if (exit == 0) {
            assertFalse(out.toString().isBlank(), "exit 0 only for --help or --version, which print to stdout");
            assertEquals("", stderr, "--help and --version write nothing to stderr");
            return;
        }
        assertEquals(StandaloneMain.EXIT_USAGE, exit, () -> "bad arguments exit 2; stderr:\n" + stderr);
        List<String> lines = List.of(stderr.split("\n"));
        assertFalse(lines.isEmpty(), "exit 2 without saying why");
        assertTrue(lines.getFirst().startsWith("shunt-agent: ") && !lines.getFirst().substring(13).isBlank(),
                () -> "the first line must be 'shunt-agent: <problem>':\n" + stderr);
        assertTrue(lines.size() == 1 || lines.size() == 2 && lines.get(1).equals(TRY_HELP),
                () -> "one line, and at most picocli's hint after it:\n" + stderr);
    }

    private static String[] withoutWhatCouldStartAnAgent(String[] args) {
        List<String> kept = new ArrayList<>();
        for (String arg : args) {
            boolean starts = arg.equals("--pod") || arg.startsWith("--pod=")
                    || arg.equals("--cni-socket") || arg.startsWith("--cni-socket=");
            if (!starts && !arg.startsWith("@") && !arg.equals("uninstall-cni")) {
                kept.add(arg);
            }
        }
        return kept.toArray(String[]::new);
    }

    /** The parsers behind the options, directly: a value, or an IllegalArgumentException with a message. */
    private static void parsesOrSaysWhy(String arg) {
        parses(arg, () -> PodSpec.parse(arg));
        parses(arg, () -> AgentOptions.parseDuration("--idle-timeout", arg));
        parses(arg, () -> AgentOptions.parseHostPort("--metrics-address", arg));
        parses(arg, () -> AgentOptions.parseMark(arg));
        parses(arg, () -> new OptOut(Set.of(arg), Set.of()));
        parses(arg, () -> new OptOut(Set.of(), Set.of(arg)));
    }

    private static void parses(String arg, Supplier<Object> parse) {
        try {
            assertNotNull(parse.get(), () -> "'" + arg + "' parsed to null");
        } catch (IllegalArgumentException e) {
            assertFalse(e.getMessage() == null || e.getMessage().isBlank(), () -> "'" + arg + "' refused without why");
        }
    }
}
