package io.shunt.hijack.probe;

import io.shunt.ffi.libc.Errno;
import io.shunt.ffi.libc.Libc;
import io.shunt.ffi.libc.NativeCallException;

import java.io.File;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Decides which interception techniques this host's kernel can support, by attempting each
 * feature rather than reading version numbers: nftables rules are applied in a scratch network
 * namespace that dies with the probe, BPF programs and maps are loaded and unloaded at once, an
 * io_uring is created and closed. Every refusal keeps the kernel's answer (errno, nft's error
 * text); a probe that cannot decide (EPERM, a missing library) is inconclusive, never supported.
 *
 * <p>The probe leaves nothing behind: no named namespace, no rule in the caller's namespace, no
 * pinned object. It runs nftables probes by entering the scratch namespace on the calling thread,
 * so call it from a platform thread that is in its home namespace (not inside {@code NetNs.run}).
 * It never throws because a probe failed; each feature records why.
 */
public final class KernelProbe {
    private static final Path OSRELEASE = Path.of("/proc/sys/kernel/osrelease");
    private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");
    private static final Path VMLINUX_BTF = Path.of("/sys/kernel/btf/vmlinux");
    private static final long IPTABLES_TIMEOUT_SECONDS = 5;

    private KernelProbe() {
    }

    /** Probes every {@link Feature} and returns what it found. */
    public static KernelFeatures run() {
        if (Thread.currentThread().isVirtual()) {
            throw new IllegalStateException("KernelProbe.run() enters a network namespace and needs a platform thread, "
                    + "not the virtual thread " + Thread.currentThread());
        }
        EnumMap<Feature, ProbeResult> results = new EnumMap<>(Feature.class);
        results.putAll(NftProbes.run());
        results.put(Feature.POLICY_ROUTING, PolicyRoutingProbe.run());
        results.putAll(BpfFeatureProbes.run());
        results.put(Feature.BTF, btf());

        Optional<List<MountInfo>> mounts;
        String mountsFailure = "";
        try {
            mounts = Optional.of(MountInfo.parse(Files.readString(MOUNTINFO)));
        } catch (IOException e) {
            mounts = Optional.empty();
            mountsFailure = "could not read " + MOUNTINFO + ": " + e;
        }
        List<Path> cgroup2 = mounts.map(m -> MountInfo.ofType(m, "cgroup2")).orElse(List.of());
        List<Path> bpffs = mounts.map(m -> MountInfo.ofType(m, "bpf")).orElse(List.of());
        if (mounts.isPresent()) {
            results.put(Feature.CGROUP_V2, cgroupV2(cgroup2, !MountInfo.ofType(mounts.get(), "cgroup").isEmpty()));
            results.put(Feature.BPFFS, bpffs.isEmpty()
                    ? new ProbeResult.Unsupported("no bpffs mounted; Shunt will mount its own when a BPF technique needs it")
                    : new ProbeResult.Supported("bpffs mounted at " + String.join(", ", bpffs.stream().map(Path::toString).toList())));
        } else {
            results.put(Feature.CGROUP_V2, new ProbeResult.Inconclusive(mountsFailure));
            results.put(Feature.BPFFS, new ProbeResult.Inconclusive(mountsFailure));
        }
        results.put(Feature.IO_URING, ioUring());
        return new KernelFeatures(kernelRelease(), results, cgroup2.stream().findFirst(), bpffs, iptablesFlavour());
    }

    static String kernelRelease() {
        try {
            return Files.readString(OSRELEASE).strip();
        } catch (IOException e) {
            return "unknown (" + e + ")";
        }
    }

    /** Reads the BTF header: present, readable and really BTF (magic 0xeB9F). */
    static ProbeResult btf() {
        try (var in = Files.newInputStream(VMLINUX_BTF)) {
            byte[] head = in.readNBytes(2);
            if (head.length < 2 || (head[0] & 0xff) != 0x9f || (head[1] & 0xff) != 0xeb) {
                return new ProbeResult.Unsupported(VMLINUX_BTF + " does not start with the BTF magic 0xeB9F");
            }
            return new ProbeResult.Supported(VMLINUX_BTF + " is readable BTF (" + Files.size(VMLINUX_BTF) + " bytes)");
        } catch (NoSuchFileException e) {
            return new ProbeResult.Unsupported(VMLINUX_BTF + " does not exist: the kernel was built without "
                    + "CONFIG_DEBUG_INFO_BTF (or /sys is not mounted)");
        } catch (AccessDeniedException e) {
            return new ProbeResult.Inconclusive("cannot read " + VMLINUX_BTF + ": permission denied");
        } catch (IOException e) {
            return new ProbeResult.Inconclusive("cannot read " + VMLINUX_BTF + ": " + e);
        }
    }

    private static ProbeResult cgroupV2(List<Path> cgroup2, boolean v1Mounted) {
        if (!cgroup2.isEmpty()) {
            return new ProbeResult.Supported("cgroup2 mounted at " + cgroup2.getFirst()
                    + (v1Mounted ? " (hybrid mode: cgroup v1 hierarchies are mounted too)" : ""));
        }
        boolean known;
        try {
            known = Files.readAllLines(Path.of("/proc/filesystems")).stream().anyMatch(l -> l.strip().endsWith("cgroup2"));
        } catch (IOException e) {
            known = false;
        }
        return new ProbeResult.Unsupported("no cgroup2 filesystem mounted (/proc/self/mountinfo)"
                + (known ? "; the kernel has cgroup2 (/proc/filesystems), mount it to use cgroup BPF techniques" : "")
                + (v1Mounted ? "; only cgroup v1 hierarchies are mounted" : ""));
    }

    /** Creates a one-entry io_uring and closes it. */
    static ProbeResult ioUring() {
        try {
            int fd = Libc.ioUringSetup(1);
            Libc.close(fd, "io_uring probe ring");
            return new ProbeResult.Supported("io_uring_setup(entries=1) created a ring (closed again)");
        } catch (NativeCallException e) {
            return switch (e.errno()) {
                case Errno.ENOSYS -> new ProbeResult.Unsupported(e.getMessage() + ": the kernel has no io_uring, or a "
                        + "seccomp filter hides it");
                case Errno.EPERM -> new ProbeResult.Unsupported(e.getMessage() + ": io_uring is disabled for this "
                        + "process (kernel.io_uring_disabled=" + ioUringDisabled() + ", or a seccomp filter)");
                default -> new ProbeResult.Inconclusive(e.getMessage());
            };
        } catch (Exception | LinkageError e) {
            return new ProbeResult.Inconclusive("io_uring probe failed: " + e.getMessage());
        }
    }

    private static String ioUringDisabled() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/io_uring_disabled")).strip();
        } catch (IOException e) {
            return "n/a";
        }
    }

    /** {@code iptables -V}, the probe's only subprocess: optional and bounded in time. */
    static IptablesFlavour iptablesFlavour() {
        Optional<Path> binary = findOnPath("iptables");
        if (binary.isEmpty()) {
            return IptablesFlavour.ABSENT;
        }
        Process p = null;
        try {
            p = new ProcessBuilder(binary.get().toString(), "-V")
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectErrorStream(true).start();
            if (!p.waitFor(IPTABLES_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                return IptablesFlavour.UNKNOWN;
            }
            String out = new String(p.getInputStream().readNBytes(4096));
            return p.exitValue() == 0 ? IptablesFlavour.fromVersionOutput(out) : IptablesFlavour.UNKNOWN;
        } catch (IOException e) {
            return IptablesFlavour.UNKNOWN;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return IptablesFlavour.UNKNOWN;
        } finally {
            if (p != null) {
                p.destroyForcibly();
            }
        }
    }

    /** {@code name} in $PATH or the sbin folders (an agent's PATH often lacks them). */
    static Optional<Path> findOnPath(String name) {
        List<String> dirs = new ArrayList<>();
        String path = System.getenv("PATH");
        if (path != null) {
            dirs.addAll(List.of(path.split(File.pathSeparator)));
        }
        dirs.addAll(List.of("/usr/local/sbin", "/usr/sbin", "/sbin"));
        return dirs.stream().filter(d -> !d.isEmpty()).map(d -> Path.of(d, name))
                .filter(Files::isExecutable).findFirst();
    }
}
