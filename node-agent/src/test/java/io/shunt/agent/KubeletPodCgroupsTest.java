package io.shunt.agent;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;

class KubeletPodCgroupsTest {
    private static final String UID = "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b";

    @TempDir
    Path root;

    @Test
    void findsTheCgroupfsDriversGroupsOfEveryQosClass() throws IOException {
        KubeletPodCgroups cgroups = new KubeletPodCgroups(root);
        Path burstable = Files.createDirectories(root.resolve("kubepods/burstable/pod" + UID));
        assertEquals(Optional.of(burstable), cgroups.find(UID));
        Path guaranteed = Files.createDirectories(root.resolve("kubepods/pod" + UID));
        assertEquals(Optional.of(guaranteed), cgroups.find(UID), "a guaranteed pod's group sits right under kubepods");
    }

    @Test
    void findsTheSystemdDriversSliceWithUnderscores() throws IOException {
        Path slice = Files.createDirectories(root.resolve("kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
                + UID.replace('-', '_') + ".slice"));
        assertEquals(Optional.of(slice), new KubeletPodCgroups(root).find(UID));
    }

    @Test
    void anAbsentGroupOrAnythingThatIsNotAUidFindsNothing() throws IOException {
        KubeletPodCgroups cgroups = new KubeletPodCgroups(root);
        assertEquals(Optional.empty(), cgroups.find(UID));
        assertEquals(Optional.empty(), cgroups.find(""));
        assertEquals(Optional.empty(), cgroups.find(null));
        Files.createDirectories(root.resolve("kubepods/pod../../etc"));
        assertEquals(Optional.empty(), cgroups.find("../../etc"), "CNI_ARGS never reach a path unchecked");
    }
}
