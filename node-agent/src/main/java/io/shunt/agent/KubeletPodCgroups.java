package io.shunt.agent;

import io.shunt.hijack.probe.MountInfo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Finds a Kubernetes pod's cgroup v2 group from its UID (CNI_ARGS' K8S_POD_UID), where the
 * kubelet puts it: CNI tells no cgroup, and the sockmap technique attaches there. The kubelet
 * creates the pod's group before the sandbox, so it exists at ADD. Both cgroup drivers:
 * <ul>
 *   <li>cgroupfs: {@code kubepods/pod<uid>}, {@code kubepods/burstable/pod<uid>},
 *       {@code kubepods/besteffort/pod<uid>};</li>
 *   <li>systemd: {@code kubepods.slice/kubepods-pod<uid_>.slice} and the burstable and besteffort
 *       slices, with the UID's dashes turned into underscores.</li>
 * </ul>
 * Only these six places are looked at, under {@code root} (the host's cgroup2 mount, or the
 * kubelet's {@code --cgroup-root} under it): no search of the whole hierarchy.
 */
public final class KubeletPodCgroups {
    private static final Pattern UID = Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");

    private final Path root;

    public KubeletPodCgroups(Path root) {
        this.root = root;
    }

    public Path root() {
        return root;
    }

    /**
     * The pod's group, or empty when the UID is empty, not a UID (nothing from CNI_ARGS goes into
     * a path unchecked), or names no group here.
     */
    public Optional<Path> find(String podUid) {
        if (podUid == null || !UID.matcher(podUid).matches()) {
            return Optional.empty();
        }
        String systemd = podUid.replace('-', '_');
        List<Path> candidates = List.of(
                root.resolve("kubepods").resolve("pod" + podUid),
                root.resolve("kubepods").resolve("burstable").resolve("pod" + podUid),
                root.resolve("kubepods").resolve("besteffort").resolve("pod" + podUid),
                root.resolve("kubepods.slice").resolve("kubepods-pod" + systemd + ".slice"),
                root.resolve("kubepods.slice").resolve("kubepods-burstable.slice")
                        .resolve("kubepods-burstable-pod" + systemd + ".slice"),
                root.resolve("kubepods.slice").resolve("kubepods-besteffort.slice")
                        .resolve("kubepods-besteffort-pod" + systemd + ".slice"));
        return candidates.stream().filter(Files::isDirectory).findFirst();
    }

    /** The cgroup2 mount point of this process's mount namespace, from /proc/self/mountinfo. */
    public static Optional<Path> cgroup2Mount() throws IOException {
        return MountInfo.cgroup2Mounts().stream().findFirst();
    }
}
