package io.shunt.hijack.probe;

import java.nio.file.Path;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What {@link KernelProbe} found on this host: one {@link ProbeResult} for every {@link Feature},
 * plus the facts the techniques need to act on them.
 *
 * @param kernelRelease the running kernel, from /proc/sys/kernel/osrelease
 * @param results       one result per feature (immutable, every feature present)
 * @param cgroup2Mount  where the cgroup v2 hierarchy is mounted, from /proc/self/mountinfo
 * @param bpffsMounts   every mounted bpffs, in mount order
 * @param iptables      which iptables the host's binary is
 */
public record KernelFeatures(String kernelRelease, Map<Feature, ProbeResult> results, Optional<Path> cgroup2Mount,
                             List<Path> bpffsMounts, IptablesFlavour iptables) {

    public KernelFeatures {
        Objects.requireNonNull(kernelRelease, "kernelRelease");
        Objects.requireNonNull(cgroup2Mount, "cgroup2Mount");
        Objects.requireNonNull(iptables, "iptables");
        EnumMap<Feature, ProbeResult> copy = new EnumMap<>(Feature.class);
        copy.putAll(results);
        for (Feature f : Feature.values()) {
            if (copy.get(f) == null) {
                throw new IllegalArgumentException("no probe result for feature " + f.id());
            }
        }
        results = Collections.unmodifiableMap(copy);
        bpffsMounts = List.copyOf(bpffsMounts);
    }

    public ProbeResult result(Feature feature) {
        return results.get(feature);
    }

    /** Whether the probe found {@code feature} supported (inconclusive counts as no). */
    public boolean has(Feature feature) {
        return result(feature) instanceof ProbeResult.Supported;
    }

    /**
     * A copy in which {@code features} are {@link ProbeResult.Unsupported}, simulating a kernel
     * without them ({@code --assume-missing=ID}). A kernel without nftables or bpf has none of
     * the features that need them, so their dependents are masked too; masking cgroup-v2 or bpffs
     * also drops the mount points.
     */
    public KernelFeatures assumeMissing(Set<Feature> features) {
        EnumMap<Feature, ProbeResult> masked = new EnumMap<>(results);
        for (Feature f : Feature.values()) {
            if (features.contains(f)) {
                masked.put(f, new ProbeResult.Unsupported("masked by --assume-missing=" + f.id()
                        + ": simulating a kernel without it"));
            } else if (f.requires().filter(features::contains).isPresent()) {
                Feature base = f.requires().orElseThrow();
                masked.put(f, new ProbeResult.Unsupported("masked by --assume-missing=" + base.id()
                        + ": simulating a kernel without " + base.id() + ", which " + f.id() + " needs"));
            }
        }
        return new KernelFeatures(kernelRelease, masked,
                features.contains(Feature.CGROUP_V2) ? Optional.empty() : cgroup2Mount,
                features.contains(Feature.BPFFS) ? List.of() : bpffsMounts,
                iptables);
    }

    /** A table for humans: the host facts, then one line per feature with its result and detail. */
    public String describe() {
        int idWidth = "FEATURE".length();
        for (Feature f : Feature.values()) {
            idWidth = Math.max(idWidth, f.id().length());
        }
        int labelWidth = "inconclusive".length();
        String indent = " ".repeat(idWidth + labelWidth + 4);
        StringBuilder out = new StringBuilder();
        out.append("kernel      ").append(kernelRelease).append('\n');
        out.append("cgroup v2   ").append(cgroup2Mount.map(Path::toString).orElse("not mounted")).append('\n');
        out.append("bpffs       ").append(bpffsMounts.isEmpty() ? "not mounted"
                : bpffsMounts.stream().map(Path::toString).collect(Collectors.joining(", "))).append('\n');
        out.append("iptables    ").append(iptables.id()).append("\n\n");
        out.append(pad("FEATURE", idWidth)).append("  ").append(pad("RESULT", labelWidth)).append("  DETAIL\n");
        for (Feature f : Feature.values()) {
            ProbeResult r = result(f);
            out.append(pad(f.id(), idWidth)).append("  ").append(pad(r.label(), labelWidth)).append("  ")
                    .append(r.text().strip().replace("\n", "\n" + indent)).append('\n');
        }
        return out.toString();
    }

    private static String pad(String s, int width) {
        return s + " ".repeat(Math.max(0, width - s.length()));
    }

    @Override
    public String toString() {
        return describe();
    }
}
