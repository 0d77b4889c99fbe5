package io.shunt.testbed;

import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The plan, without a kernel: names, addresses, and that every command is scoped to a test namespace. */
class TopologyPlanTest {
    private static final String PREFIX = "shunt-kt-0a0b-";

    @Test
    void namesAndAddressesFollowThePodIndex() throws Exception {
        TopologyPlan plan = TopologyPlan.of(PREFIX, 3);

        assertEquals(List.of(PREFIX + "up", PREFIX + "pod-a", PREFIX + "pod-b", PREFIX + "pod-c"), plan.namespaceNames());
        PodNs c = plan.pods().get(2);
        assertEquals("pod-c", c.name());
        assertEquals(InetAddress.getByName("10.201.3.2"), c.address());
        assertEquals(InetAddress.getByName("10.201.3.1"), c.gateway());
        assertEquals("/var/run/netns/" + PREFIX + "pod-c", c.netnsPath().toString());
        assertEquals(PREFIX + "up", plan.upstream().netnsName());
    }

    @Test
    void everyCommandNamesOneOfTheTopologysNamespacesAndNoneAddsADefaultRoute() {
        TopologyPlan plan = TopologyPlan.of(PREFIX, 2);
        for (List<String> argv : plan.wiring()) {
            boolean scoped = (argv.get(1).equals("-n") || argv.subList(1, 3).equals(List.of("netns", "exec")))
                    && plan.namespaceNames().contains(argv.get(argv.get(1).equals("-n") ? 2 : 3));
            assertTrue(scoped, "command not confined to a test namespace: " + argv);
            assertFalse(argv.contains("default"), "default route in " + argv);
        }
    }

    @Test
    void vethPeersAreBornInsideTheRouterNamespace() {
        TopologyPlan plan = TopologyPlan.of(PREFIX, 2);
        List<List<String>> veths = plan.wiring().stream().filter(argv -> argv.contains("veth")).toList();
        assertEquals(2, veths.size());
        for (List<String> argv : veths) {
            assertEquals(List.of("netns", PREFIX + "up"), argv.subList(argv.size() - 2, argv.size()), argv.toString());
        }
    }
}
