package io.shunt.ffi.bpf;

import io.shunt.ffi.libc.Libc;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A program attached to a network namespace through a BPF link ({@code bpf_program__attach_netns},
 * BPF_LINK_CREATE): an {@code sk_lookup} program (or a flow dissector) that acts on every socket
 * lookup in that namespace. The life rules are {@link BpfLink}'s: pin the link to keep the
 * attachment across agent restarts, {@link #adopt} it after one, remove it with
 * {@code detach(); unpin(); close()}. The link holds a reference on the namespace only while it is
 * attached; when the namespace goes, the kernel detaches the link and it turns defunct.
 */
public final class NetnsAttachment extends LinkAttachment {
    /** BPF_LINK_TYPE_NETNS (enum bpf_link_type). */
    public static final int TYPE_NETNS = 5;

    private NetnsAttachment(BpfLink link, String netns, BpfLink.Info info) {
        super(link, netns, info);
    }

    /**
     * Attaches {@code program} to the network namespace at {@code netnsPath} (e.g.
     * {@code /var/run/netns/NAME} or {@code /proc/PID/ns/net}); the calling thread's namespace
     * does not matter.
     *
     * @throws BpfException when the kernel refuses, e.g. EINVAL for a program that is no netns program
     *                      or a namespace that has a non-link attachment of the same type
     */
    public static NetnsAttachment attach(Path netnsPath, BpfProgram program) throws IOException {
        int netnsFd = Libc.open(netnsPath.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
        try {
            BpfLink owned = createLink("bpf_program__attach_netns", Libbpf.handles().attachNetns(), program, netnsFd,
                    netnsPath, "netns");
            try {
                return new NetnsAttachment(owned, netnsPath.toString(), owned.info());
            } catch (IOException | RuntimeException e) {
                owned.close();
                throw e;
            }
        } finally {
            // the link holds its own reference on the namespace
            BpfFds.close(netnsFd, "netns " + netnsPath);
        }
    }

    /**
     * Takes over the netns link pinned at {@code pin}, e.g. one a previous agent left.
     *
     * @throws BpfException when nothing is pinned there or the pin holds no netns link
     */
    public static NetnsAttachment adopt(Path pin) throws IOException {
        BpfLink link = openPinned(pin, TYPE_NETNS, "netns");
        try {
            return new NetnsAttachment(link, "pinned at " + pin, link.info());
        } catch (IOException | RuntimeException e) {
            link.close();
            throw e;
        }
    }
}
