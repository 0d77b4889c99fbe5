package io.shunt.cni;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.shunt.api.cni.CniReply;
import io.shunt.api.cni.CniRequest;
import io.shunt.api.cni.CniRequest.Command;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import java.util.List;

import static io.shunt.cni.PluginRun.JSON;
import static io.shunt.cni.PluginRun.env;
import static io.shunt.cni.PluginRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CniPluginTest {
    /** A bridge plugin's result as the runtime passes it on; compact, so "unchanged" can be compared as text. */
    private static final String PREV_RESULT = """
            {"cniVersion":"%s","interfaces":[{"name":"cni-podman0","mac":"de:ad:be:ef:00:01"},\
            {"name":"veth0c0ffee","mac":"de:ad:be:ef:00:02"},\
            {"name":"eth0","mac":"de:ad:be:ef:00:03","sandbox":"/var/run/netns/cni-1234"}],\
            "ips":[{"address":"10.22.0.5/16","gateway":"10.22.0.1","interface":2},\
            {"address":"fd00:22::5/64","gateway":"fd00:22::1","interface":2}],\
            "routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}],"dns":{"nameservers":["10.22.0.1"],"search":["cluster.local"]},\
            "x-vendor":{"weight":1.50,"big":12345678901234567890,"note":"gr\u00fc\u00df \\"quoted\\""}}""";

    @TempDir
    Path dir;
    FakeAgent agent;

    @BeforeEach
    void startAgent() throws IOException {
        agent = FakeAgent.start(dir);
    }

    @AfterEach
    void stopAgent() throws Exception {
        agent.close();
    }

    private ObjectNode config(String version) {
        ObjectNode config = JSON.createObjectNode();
        config.put("cniVersion", version);
        config.put("name", "podnet");
        config.put("type", "shunt-cni");
        config.put("agentSocket", agent.socket().toString());
        config.put("timeoutSeconds", 10);
        return config;
    }

    private String configWithPrevResult(String version) {
        String config = config(version).toString();
        return config.substring(0, config.length() - 1) + ",\"prevResult\":" + PREV_RESULT.formatted(version) + "}";
    }

    @Nested
    class Version {
        @ParameterizedTest(name = "stdin {0} -> cniVersion {1}")
        @CsvSource(delimiter = '|', value = {
                "{\"cniVersion\":\"1.0.0\"}|1.0.0",
                "{\"cniVersion\":\"0.4.0\"}|0.4.0",
                "{\"cniVersion\":\"0.3.1\"}|1.1.0",
                "''|1.1.0",
                "not json|1.1.0"})
        void answersWithoutTheAgent(String stdin, String expected) throws Exception {
            agent.close();
            PluginRun r = run(env("VERSION"), stdin);
            assertEquals(0, r.exit(), r.stderr());
            JsonNode out = r.json();
            assertEquals(expected, out.path("cniVersion").asText(), out.toString());
            assertEquals(List.of("0.4.0", "1.0.0", "1.1.0"),
                    JSON.convertValue(out.path("supportedVersions"), List.class), out.toString());
        }
    }

    @Nested
    class Add {
        @ParameterizedTest(name = "cniVersion {0}")
        @ValueSource(strings = {"0.4.0", "1.0.0", "1.1.0"})
        void printsPrevResultUnchangedAndSendsTheRequest(String version) {
            PluginRun r = run(env("ADD", "CNI_ARGS",
                    "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-1;K8S_POD_INFRA_CONTAINER_ID=c0ffee0123456789;"
                            + "K8S_POD_UID=1b4e28ba-2fa1-11d2-883f-0016d3cca427"), configWithPrevResult(version));

            assertEquals(0, r.exit(), r.stdout() + r.stderr());
            assertEquals(PREV_RESULT.formatted(version), r.stdout().strip(), "ADD's result is prevResult as it came");
            assertEquals(new CniRequest(Command.ADD, "c0ffee0123456789", "/var/run/netns/cni-1234", "eth0", "default",
                    "web-1", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", List.of("10.22.0.5/16", "fd00:22::5/64"), List.of(),
                    "podnet"), agent.onlyRequest(), "the request carries the network's name, for GC to stay within it");
        }

        @Test
        void setsTheResultsCniVersionToTheConfigs() {
            ObjectNode config = config("1.0.0");
            ObjectNode prev = config.putObject("prevResult");
            prev.putArray("ips").addObject().put("address", "10.22.0.7/16");
            PluginRun r = run(env("ADD"), config.toString());

            assertEquals(0, r.exit(), r.stdout() + r.stderr());
            assertEquals("{\"ips\":[{\"address\":\"10.22.0.7/16\"}],\"cniVersion\":\"1.0.0\"}", r.stdout().strip());
        }

        @Test
        void takesThePodNameFromPodmansArgs() {
            PluginRun r = run(env("ADD", "CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=web"), configWithPrevResult("0.4.0"));

            assertEquals(0, r.exit(), r.stdout() + r.stderr());
            CniRequest sent = agent.onlyRequest();
            assertEquals(List.of("", "web", ""), List.of(sent.podNamespace(), sent.podName(), sent.podUid()));
        }

        @Test
        void rejectsAnUnknownArgWithoutIgnoreUnknown() {
            PluginRun r = run(env("ADD", "CNI_ARGS", "K8S_POD_NAME=web;COLOR=blue"), configWithPrevResult("1.0.0"));

            assertTrue(r.assertError(4, "1.0.0").path("msg").asText().contains("COLOR"), r.stdout());
            assertEquals(List.of(), agent.requests());
        }

        @Test
        void agentDownIsTryAgainLaterAndNothingButTheError() throws Exception {
            agent.close();
            PluginRun r = run(env("ADD"), configWithPrevResult("1.0.0"));

            r.assertError(11, "1.0.0");
            assertEquals("the shunt agent is not running: no socket at " + agent.socket(), r.msg());
            assertTrue(r.stderr().contains("no socket at " + agent.socket()), r.stderr());
        }

        @Test
        void agentNotListeningIsTryAgainLater() throws Exception {
            agent.close();
            try (ServerSocketChannel stale = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
                stale.bind(UnixDomainSocketAddress.of(agent.socket())); // a socket file left by a dead agent
            }
            PluginRun r = run(env("ADD"), configWithPrevResult("1.1.0"));

            r.assertError(11, "1.1.0");
            assertTrue(r.msg().startsWith("the shunt agent is not running: nothing listens on " + agent.socket()), r.msg());
        }

        @Test
        void agentFailureReplyKeepsItsCodeAndText() {
            agent.answering(CniReply.failure(CniReply.INTERCEPTION_FAILED, "could not intercept pod default/web-1",
                    "nft: table inet shunt: Operation not permitted"));
            PluginRun r = run(env("ADD"), configWithPrevResult("1.1.0"));

            JsonNode error = r.assertError(100, "1.1.0");
            assertEquals("could not intercept pod default/web-1", error.path("msg").asText());
            assertEquals("nft: table inet shunt: Operation not permitted", error.path("details").asText());
        }

        @Test
        void agentSilentPastTheTimeoutIsTryAgainLater() {
            agent.mode(FakeAgent.Mode.SILENT);
            ObjectNode config = (ObjectNode) readTree(configWithPrevResult("1.0.0"));
            config.put("timeoutSeconds", 0.3);
            PluginRun r = run(env("ADD"), config.toString());

            r.assertError(11, "1.0.0");
            assertTrue(r.msg().contains("did not answer within 0.3 s (timeoutSeconds)"), r.msg());
            assertEquals(1, agent.requests().size(), "the request reached the agent");
        }

        @Test
        void agentHangingUpIsTryAgainLater() {
            agent.mode(FakeAgent.Mode.HANG_UP);
            PluginRun r = run(env("ADD"), configWithPrevResult("1.0.0"));

            r.assertError(11, "1.0.0");
            assertTrue(r.msg().contains("closed the connection without a reply"), r.msg());
        }

        @Test
        void withoutPrevResultSaysItIsChained() {
            PluginRun r = run(env("ADD"), config("1.0.0").toString());

            r.assertError(7, "1.0.0");
            assertEquals("shunt-cni is a chained plugin: put it after the plugin that creates the interface", r.msg());
            assertEquals(List.of(), agent.requests());
        }

        @ParameterizedTest(name = "without {0}")
        @ValueSource(strings = {"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"})
        void namesAMissingVariable(String variable) {
            PluginRun r = run(env("ADD", variable, null), configWithPrevResult("1.0.0"));

            r.assertError(4, "1.0.0");
            assertEquals("required environment variable " + variable + " is not set for ADD", r.msg());
            assertEquals(List.of(), agent.requests());
        }
    }

    @Nested
    class Del {
        @Test
        void succeedsWhenTheAgentIsNotRunning() throws Exception {
            agent.close();
            PluginRun r = run(env("DEL", "CNI_NETNS", null), configWithPrevResult("1.0.0"));

            r.assertSuccessWithoutOutput();
            assertTrue(r.stderr().contains("no socket at " + agent.socket()), r.stderr());
        }

        @Test
        void succeedsWhenTheAgentDoesNotKnowThePod() {
            agent.answering(CniReply.failure(CniReply.CONTAINER_UNKNOWN, "unknown container", ""));
            PluginRun r = run(env("DEL", "CNI_NETNS", "", "CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=web"),
                    config("0.4.0").toString());

            r.assertSuccessWithoutOutput();
            CniRequest sent = agent.onlyRequest();
            assertEquals(List.of(Command.DEL, "c0ffee0123456789", "", "web"),
                    List.of(sent.command(), sent.containerId(), sent.netns(), sent.podName()));
        }

        @Test
        void reportsAFailureToRemove() {
            agent.answering(CniReply.failure(CniReply.IO_FAILURE, "could not remove the interception of pod web", "EBUSY"));
            PluginRun r = run(env("DEL"), configWithPrevResult("1.0.0"));

            assertEquals("could not remove the interception of pod web", r.assertError(5, "1.0.0").path("msg").asText());
        }

        @Test
        void ignoresMalformedArgs() {
            PluginRun r = run(env("DEL", "CNI_ARGS", "garbage"), configWithPrevResult("1.0.0"));

            r.assertSuccessWithoutOutput();
            assertEquals("c0ffee0123456789", agent.onlyRequest().containerId());
        }
    }

    @Nested
    class Check {
        @Test
        void passesWhenTheAgentAgrees() {
            PluginRun r = run(env("CHECK"), configWithPrevResult("1.0.0"));

            r.assertSuccessWithoutOutput();
            assertEquals(Command.CHECK, agent.onlyRequest().command());
        }

        @Test
        void reportsTheAgentsFinding() {
            agent.answering(CniReply.failure(CniReply.CHECK_FAILED, "the interception rules of pod web are gone",
                    "expected: table inet shunt"));
            PluginRun r = run(env("CHECK"), configWithPrevResult("1.0.0"));

            assertEquals("the interception rules of pod web are gone", r.assertError(101, "1.0.0").path("msg").asText());
        }

        @Test
        void agentDownIsTryAgainLater() throws Exception {
            agent.close();
            run(env("CHECK"), configWithPrevResult("1.1.0")).assertError(11, "1.1.0");
        }
    }

    @Nested
    class Status {
        private final java.util.Map<String, String> statusEnv = java.util.Map.of("CNI_COMMAND", "STATUS",
                "CNI_PATH", "/opt/cni/bin");

        @Test
        void readyAgentIsSuccess() {
            PluginRun r = run(statusEnv, config("1.1.0").toString());

            r.assertSuccessWithoutOutput();
            assertEquals(Command.STATUS, agent.onlyRequest().command());
        }

        @Test
        void agentNotReadyIsNotAvailable() {
            agent.answering(CniReply.failure(CniReply.PLUGIN_NOT_AVAILABLE, "the shunt agent is starting", ""));
            PluginRun r = run(statusEnv, config("1.1.0").toString());

            r.assertError(50, "1.1.0");
            assertEquals("shunt-cni is not available: the shunt agent is starting", r.msg());
        }

        @Test
        void agentDownIsNotAvailable() throws Exception {
            agent.close();
            PluginRun r = run(statusEnv, config("1.1.0").toString());

            r.assertError(50, "1.1.0");
            assertTrue(r.msg().contains("the shunt agent is not running: no socket at " + agent.socket()), r.msg());
        }

        @Test
        void doesNotExistBefore110() {
            run(statusEnv, config("1.0.0").toString()).assertError(1, "1.0.0");
            assertEquals(List.of(), agent.requests());
        }
    }

    @Nested
    class Gc {
        private final java.util.Map<String, String> gcEnv = java.util.Map.of("CNI_COMMAND", "GC", "CNI_PATH", "/opt/cni/bin");

        private String gcConfig(String... ids) {
            ObjectNode config = config("1.1.0");
            var attachments = config.putArray(PluginConfig.VALID_ATTACHMENTS);
            for (String id : ids) {
                attachments.addObject().put("containerID", id).put("ifname", "eth0");
            }
            return config.toString();
        }

        @Test
        void forwardsTheValidContainerIds() {
            PluginRun r = run(gcEnv, gcConfig("aaaa", "bbbb"));

            r.assertSuccessWithoutOutput();
            CniRequest sent = agent.onlyRequest();
            assertEquals(Command.GC, sent.command());
            assertEquals(List.of("aaaa", "bbbb"), sent.validContainerIds());
        }

        @Test
        void forwardsAnEmptyList() {
            run(gcEnv, gcConfig()).assertSuccessWithoutOutput();
            assertEquals(List.of(), agent.onlyRequest().validContainerIds());
        }

        @Test
        void refusesWithoutTheList() {
            run(gcEnv, config("1.1.0").toString()).assertError(7, "1.1.0");
            assertEquals(List.of(), agent.requests(), "a missing list must not reach the agent as an empty one");
        }

        @Test
        void succeedsWhenTheAgentIsNotRunning() throws Exception {
            agent.close();
            PluginRun r = run(gcEnv, gcConfig("aaaa"));

            r.assertSuccessWithoutOutput();
            assertTrue(r.stderr().contains("nothing to collect"), r.stderr());
        }
    }

    @Nested
    class BadInput {
        @ParameterizedTest(name = "stdin {0}")
        @ValueSource(strings = {"{\"cniVersion\":\"1.0.0\",", "[1,2]", "", "{} {}", "null"})
        void undecodableConfigIs6(String stdin) {
            PluginRun r = run(env("ADD"), stdin);

            r.assertError(6, "1.1.0");
            assertTrue(r.msg().startsWith("the network configuration on stdin is"), r.msg());
            assertEquals(List.of(), agent.requests());
        }

        @ParameterizedTest(name = "cniVersion {0}")
        @ValueSource(strings = {"0.3.1", "2.0.0", "1.0"})
        void unsupportedVersionIs1(String version) {
            PluginRun r = run(env("ADD"), configWithPrevResult(version));

            r.assertError(1, version);
            assertEquals("shunt-cni does not support cniVersion \"" + version + "\"", r.msg());
            assertEquals(List.of(), agent.requests());
        }

        @Test
        void missingVersionIs1() {
            ObjectNode config = config("1.0.0");
            config.remove("cniVersion");
            assertEquals("the network configuration has no cniVersion",
                    run(env("ADD"), config.toString()).assertError(1, "1.1.0").path("msg").asText());
        }

        @Test
        void unknownCommandIs4() {
            PluginRun r = run(env("ATTACH"), configWithPrevResult("1.0.0"));

            r.assertError(4, "1.0.0");
            assertTrue(r.msg().contains("unknown CNI_COMMAND \"ATTACH\""), r.msg());
        }

        @Test
        void missingCommandIs4() {
            PluginRun r = run(env("ADD", "CNI_COMMAND", null), configWithPrevResult("1.0.0"));

            r.assertError(4, "1.1.0");
            assertTrue(r.msg().startsWith("CNI_COMMAND is not set"), r.msg());
        }

        @ParameterizedTest(name = "{0}: {1}")
        @CsvSource(delimiter = '|', value = {
                "agentSocket|\"run/shunt/cni.sock\"|is not an absolute path",
                "agentSocket|42|agentSocket must be",
                "timeoutSeconds|0|timeoutSeconds must be",
                "timeoutSeconds|\"30\"|timeoutSeconds must be"})
        void unusableFieldIs7(String field, String value, String expected) {
            ObjectNode config = (ObjectNode) readTree(configWithPrevResult("1.0.0"));
            config.set(field, readTree(value));
            PluginRun r = run(env("ADD"), config.toString());

            r.assertError(7, "1.0.0");
            assertTrue(r.msg().contains(expected), r.msg());
            assertEquals(List.of(), agent.requests());
        }
    }

    private static JsonNode readTree(String json) {
        try {
            return JSON.readTree(json);
        } catch (IOException e) {
            throw new AssertionError(json, e);
        }
    }
}
