package io.shunt.agent.standalone;

import io.shunt.agent.AgentConfig;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.probe.Feature;
import io.shunt.hijack.select.Selector;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.policy.Cidr;
import io.shunt.hijack.policy.PortRange;
import io.shunt.proxy.Transport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AgentOptionsTest {
    /** A netns path that cannot exist, so no case here can ever reach a real namespace. */
    private static final String POD = "web=/nonexistent/shunt-agent-options-test/ns";

    // --- parseDuration ----------------------------------------------------------------------------

    @ParameterizedTest
    @CsvSource({
            "1ms, PT0.001S",
            "500ms, PT0.5S",
            "30s, PT30S",
            "5m, PT5M",
            "1h, PT1H",
            "90m, PT1H30M",
            "007s, PT7S",
    })
    void parseDurationAcceptsAPositiveNumberWithAUnit(String text, Duration expected) {
        assertEquals(expected, AgentOptions.parseDuration("--idle-timeout", text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"0s", "0ms", "00h", "10", "s", "", "1d", "1.5s", "-1s", "+1s", "1 s", " 1s", "1s ", "1S", "1sec",
            "1h30m"})
    void parseDurationRefusesAnythingElseNamingTheOption(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> AgentOptions.parseDuration("--connect-timeout", text));
        assertEquals("--connect-timeout '" + text + "' is not a positive duration like 500ms, 30s, 5m or 1h", e.getMessage());
    }

    /** Digits alone do not make a representable duration; the answer must still be the option's own message. */
    @ParameterizedTest
    @ValueSource(strings = {"99999999999999999999s", "9223372036854775807h"})
    void parseDurationRefusesADurationTooLargeToRepresentNamingTheOption(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> AgentOptions.parseDuration("--idle-timeout", text));
        assertTrue(e.getMessage().contains("--idle-timeout '" + text + "'"), e.getMessage());
    }

    // --- parseMark --------------------------------------------------------------------------------

    @ParameterizedTest
    @CsvSource({
            "0x5348, 21320",
            "0X5348, 21320",
            "21320, 21320",
            "1, 1",
            "0x1, 1",
            "0xffffffff, -1",
            "4294967295, -1",
            "0x7fffffff, 2147483647",
            "0x80000000, -2147483648",
    })
    void parseMarkAcceptsNonZero32BitNumbersInDecimalOrHex(String text, int expected) {
        assertEquals(expected, AgentOptions.parseMark(text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "0x0", "00", "-1", "0x100000000", "4294967296", "99999999999999999999", "abc", "", "0x",
            "0xg1", "5348h", " 1", "1.0", "0x-1"})
    void parseMarkRefusesAnythingElse(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AgentOptions.parseMark(text));
        assertEquals("--bypass-mark '" + text + "' is not a non-zero 32-bit number like 0x5348", e.getMessage());
    }

    // --- the command line as picocli parses it ----------------------------------------------------

    @Test
    void theAutoRankingInTheHelpIsTheSelectorsDefault() {
        assertEquals(String.join(",", Selector.DEFAULT_RANKING.stream().map(TechniqueId::id).toList()),
                AgentOptions.AUTO_RANKING);
    }

    @Test
    void aTechniqueListIsARankingAndMaskedFeaturesAreParsed() {
        AgentConfig config = configFrom("--pod", POD, "--technique", "redirect,tproxy", "--assume-missing", "tproxy,nft-socket");
        assertEquals(List.of(TechniqueId.REDIRECT, TechniqueId.TPROXY), config.ranking());
        assertEquals(Set.of(Feature.NFT_TPROXY, Feature.NFT_SOCKET), config.assumeMissing());
    }

    @Test
    void withOnlyAPodTheConfigIsTheDefaults() {
        AgentConfig config = configFrom("--pod", POD);
        assertEquals(Selector.DEFAULT_RANKING, config.ranking());
        assertTrue(config.assumeMissing().isEmpty());
        assertEquals(CapturePolicy.defaults(), config.policy());
        assertEquals(Transport.best(), config.engine().transport());
        assertEquals(Duration.ofSeconds(10), config.engine().connectTimeout());
        assertEquals(Duration.ofHours(1), config.engine().idleTimeout());
        assertFalse(config.logConnections());
    }

    @Test
    void excludedPortsMayBeCommaSeparatedAndRepeated() {
        AgentConfig config = configFrom("--pod", POD, "--exclude-port", "22,9000-9100", "--exclude-port", "80",
                "--exclude-inbound-port", "8080,8443-8444");
        assertEquals(List.of(PortRange.of(22), new PortRange(9000, 9100), PortRange.of(80)),
                config.policy().excludeOutboundPorts());
        assertEquals(List.of(PortRange.of(8080), new PortRange(8443, 8444)), config.policy().excludeInboundPorts());
        assertEquals(List.of(), config.policy().excludeOutboundCidrs());
    }

    @Test
    void whitespaceAfterACommaIsTolerated() {
        AgentConfig config = configFrom("--pod", POD, "--exclude-port", "22, 80", "--exclude-cidr", "10.96.0.1/32, 10.0.0.0/8");
        assertEquals(List.of(PortRange.of(22), PortRange.of(80)), config.policy().excludeOutboundPorts());
        assertEquals(List.of(Cidr.parse("10.96.0.1/32"), Cidr.parse("10.0.0.0/8")), config.policy().excludeOutboundCidrs());
    }

    @Test
    void cidrListsMayBeCommaSeparatedAndRepeated() {
        AgentConfig config = configFrom("--pod", POD, "--exclude-cidr", "10.96.0.1/32,10.0.0.0/8",
                "--exclude-cidr", "192.168.1.1", "--include-cidr", "10.201.0.0/16");
        assertEquals(List.of(Cidr.parse("10.96.0.1/32"), Cidr.parse("10.0.0.0/8"), Cidr.parse("192.168.1.1/32")),
                config.policy().excludeOutboundCidrs());
        assertEquals(List.of(Cidr.parse("10.201.0.0/16")), config.policy().includeOutboundCidrs());
    }

    @Test
    void everyOptionReachesTheConfig() {
        AgentConfig config = configFrom("--pod", POD, "--technique", "redirect", "--no-inbound",
                "--outbound-port", "16001", "--inbound-port", "16006", "--bypass-mark", "0x10",
                "--transport", "epoll", "--connect-timeout", "500ms", "--idle-timeout", "5m", "--log-connections");
        CapturePolicy policy = config.policy();
        assertEquals(16001, policy.outboundPort());
        assertEquals(16006, policy.inboundPort());
        assertEquals(0x10, policy.bypassMark());
        assertFalse(policy.captureInbound());
        assertEquals(Transport.EPOLL, config.engine().transport());
        assertEquals(Duration.ofMillis(500), config.engine().connectTimeout());
        assertEquals(Duration.ofMinutes(5), config.engine().idleTimeout());
        assertTrue(config.logConnections());
        assertEquals(Transport.IO_URING, configFrom("--pod", POD, "--transport", "io_uring").engine().transport());
    }

    @Test
    void podsMayBeRepeated() {
        StandaloneMain main = new StandaloneMain();
        new CommandLine(main).parseArgs("--pod", "a=/var/run/netns/a", "--pod", "b=/proc/4242/ns/net");
        assertEquals(List.of("a=/var/run/netns/a", "b=/proc/4242/ns/net"), main.pods);
    }

    /**
     * Bad input ends the command with exit code 2 and a message naming the problem, before any
     * agent starts (the pod path cannot exist, so getting further would show as exit code 1).
     */
    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
            "--exclude-port=70000                 | '70000': port 70000 is out of range 1..65535",
            "--exclude-port=22,x                  | invalid port range 'x'",
            "--exclude-inbound-port=0             | port 0 is out of range",
            "--exclude-cidr=10.0.0.1/8            | 10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?",
            "--include-cidr=fd00::/8              | IPv6 CIDR 'fd00::/8'",
            "--technique=nosuch                   | unknown technique 'nosuch'; known techniques: redirect, tproxy, tc",
            "--transport=kqueue                   | unknown transport 'kqueue'",
            "--idle-timeout=0s                    | --idle-timeout '0s' is not a positive duration",
            "--connect-timeout=10                 | --connect-timeout '10' is not a positive duration",
            "--bypass-mark=0                      | --bypass-mark '0' is not a non-zero 32-bit number",
            "--outbound-port=15006                | outboundPort and inboundPort are both 15006",
            "--inbound-port=70000                 | inboundPort 70000 is out of range 1..65535",
            "--outbound-port=http                 | --outbound-port",
            "--no-such-option                     | Unknown option",
    })
    void badInputExitsTwoWithAMessage(String arg, String message) {
        Run run = execute("--pod", POD, arg);
        assertEquals(StandaloneMain.EXIT_USAGE, run.exit(), run.err());
        assertTrue(run.err().contains(message), "'" + message + "' missing in: " + run.err());
        assertTrue(run.err().startsWith("shunt-agent: "), run.err());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
            "web                     | pod 'web' is not NAME=NETNS_PATH",
            "web=relative/ns         | netns path 'relative/ns' of pod web must be absolute",
            "-web=/var/run/netns/web | pod name '-web' is not valid",
    })
    void aBadPodExitsTwo(String pod, String message) {
        Run run = execute("--pod", pod);
        assertEquals(StandaloneMain.EXIT_USAGE, run.exit(), run.err());
        assertTrue(run.err().contains(message), "'" + message + "' missing in: " + run.err());
    }

    @Test
    void withoutAPodItExitsTwo() {
        Run run = execute();
        assertEquals(StandaloneMain.EXIT_USAGE, run.exit(), run.err());
        assertTrue(run.err().contains("--pod"), run.err());
    }

    // ----------------------------------------------------------------------------------------------

    @Test
    void metricsAddressMustBeALiteralHostAndPort() {
        assertEquals(new java.net.InetSocketAddress("127.0.0.1", 15090),
                AgentOptions.parseHostPort("--metrics-address", "127.0.0.1:15090"));
        assertEquals(15090, AgentOptions.parseHostPort("--metrics-address", "[::1]:15090").getPort());
        for (String bad : List.of("localhost:15090", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", ":15090", "x:y")) {
            Run r = execute("--pod", "a=/var/run/netns/a", "--metrics-address", bad);
            assertEquals(StandaloneMain.EXIT_USAGE, r.exit(), bad);
            assertTrue(r.err().startsWith("shunt-agent: --metrics-address"), r.err());
        }
    }

    @Test
    void cniConfDirNeedsTheCniSocket() {
        Run r = execute("--cni-conf-dir", "/tmp/net.d");
        assertEquals(StandaloneMain.EXIT_USAGE, r.exit());
        assertTrue(r.err().contains("give --cni-socket PATH too"), r.err());
    }

    @Test
    void skipOptionsRefuseNamesKubernetesWouldNot() {
        Run r = execute("--cni-socket", "/tmp/x.sock", "--skip-pod", "coredns");
        assertEquals(StandaloneMain.EXIT_USAGE, r.exit());
        assertTrue(r.err().contains("'coredns' is not NAMESPACE/NAME"), r.err());
    }

    @Test
    void argumentFilesAreExpandedToFindTheLogFormatBeforePicocliRuns(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws java.io.IOException {
        java.nio.file.Path file = java.nio.file.Files.writeString(dir.resolve("agent.args"),
                "# settings\n--skip-namespace kube-system\n--log-format json\n");
        assertEquals(List.of("--pod", "a=/x", "--skip-namespace", "kube-system", "--log-format", "json"),
                List.of(StandaloneMain.expandArgumentFiles(new String[]{"--pod", "a=/x", "@" + file})));
        assertEquals(List.of("@" + dir.resolve("missing")),
                List.of(StandaloneMain.expandArgumentFiles(new String[]{"@" + dir.resolve("missing")})),
                "an unreadable file is left for picocli to report");
    }

    private static AgentConfig configFrom(String... args) {
        StandaloneMain main = new StandaloneMain();
        new CommandLine(main).parseArgs(args);
        return main.options.toConfig();
    }

    private record Run(int exit, String err) {
    }

    private static Run execute(String... args) {
        StringWriter err = new StringWriter();
        StringWriter out = new StringWriter();
        int exit = StandaloneMain.commandLine(new StandaloneMain())
                .setErr(new PrintWriter(err, true))
                .setOut(new PrintWriter(out, true))
                .execute(args);
        return new Run(exit, err.toString().strip() + (out.toString().isBlank() ? "" : "\n[stdout] " + out));
    }
}
