package io.shunt.kerneltests;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Calls a CNI plugin chain the way a container runtime does: each plugin is exec'd with the
 * CNI_* environment and nothing else, inside the node's network namespace (a test namespace here),
 * with its config on stdin; ADD and CHECK run in order with the previous result as prevResult,
 * DEL runs in reverse.
 */
final class CniRuntime {
    static final ObjectMapper JSON = new ObjectMapper();

    private final String nodeNs;
    private final String network;
    private final String cniVersion;
    private final List<ObjectNode> plugins;
    private final List<Path> pluginDirs;

    record Result(int exit, String stdout, String stderr) {
        JsonNode json() throws IOException {
            return JSON.readTree(stdout);
        }
    }

    CniRuntime(String nodeNs, String network, String cniVersion, List<ObjectNode> plugins, List<Path> pluginDirs) {
        this.nodeNs = nodeNs;
        this.network = network;
        this.cniVersion = cniVersion;
        this.plugins = plugins;
        this.pluginDirs = pluginDirs;
    }

    /** Runs ADD through the chain; returns the last plugin's result (or the first failure). */
    Result add(String containerId, Path netns, String cniArgs) throws IOException {
        return inOrder("ADD", containerId, netns, cniArgs, null);
    }

    Result check(String containerId, Path netns, String cniArgs, JsonNode prevResult) throws IOException {
        return inOrder("CHECK", containerId, netns, cniArgs, prevResult);
    }

    /** DEL in reverse order; every plugin is called even after one fails, as runtimes do. */
    List<Result> del(String containerId, Path netns, String cniArgs, JsonNode prevResult) throws IOException {
        List<Result> results = new ArrayList<>();
        for (int i = plugins.size() - 1; i >= 0; i--) {
            results.add(exec(plugins.get(i), "DEL", containerId, netns, cniArgs, prevResult));
        }
        return results;
    }

    private Result inOrder(String command, String containerId, Path netns, String cniArgs, JsonNode prev) throws IOException {
        Result last = null;
        JsonNode prevResult = command.equals("ADD") ? null : prev;
        for (ObjectNode plugin : plugins) {
            last = exec(plugin, command, containerId, netns, cniArgs, prevResult);
            if (last.exit() != 0) {
                return last;
            }
            if (command.equals("ADD")) {
                prevResult = last.json();
            }
        }
        return last;
    }

    /** One plugin call, with a config as the runtime builds it and a stripped environment. */
    Result exec(ObjectNode plugin, String command, String containerId, Path netns, String cniArgs, JsonNode prevResult)
            throws IOException {
        ObjectNode conf = plugin.deepCopy();
        conf.put("cniVersion", cniVersion);
        conf.put("name", network);
        if (prevResult != null) {
            conf.set("prevResult", prevResult);
        }
        return execRaw(plugin.get("type").asText(), command, containerId, netns, cniArgs,
                JSON.writeValueAsString(conf));
    }

    Result execRaw(String type, String command, String containerId, Path netns, String cniArgs, String stdin)
            throws IOException {
        Path binary = pluginDirs.stream().map(d -> d.resolve(type)).filter(p -> p.toFile().canExecute()).findFirst()
                .orElseThrow(() -> new IOException("no CNI plugin '" + type + "' in " + pluginDirs));
        ProcessBuilder pb = new ProcessBuilder("/usr/sbin/ip", "netns", "exec", nodeNs, binary.toString());
        Map<String, String> env = pb.environment();
        env.clear();
        env.put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        if (command != null) {
            env.put("CNI_COMMAND", command);
        }
        env.put("CNI_CONTAINERID", containerId);
        if (netns != null) {
            env.put("CNI_NETNS", netns.toString());
        }
        env.put("CNI_IFNAME", "eth0");
        env.put("CNI_ARGS", cniArgs);
        env.put("CNI_PATH", String.join(":", pluginDirs.stream().map(Path::toString).toList()));
        Process p = pb.start();
        p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        try {
            byte[] out = p.getInputStream().readAllBytes();
            byte[] err = p.getErrorStream().readAllBytes();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(type + " " + command + " did not finish within 60 s");
            }
            return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + type, e);
        }
    }
}
