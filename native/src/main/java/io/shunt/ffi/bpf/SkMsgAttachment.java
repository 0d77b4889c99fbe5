package io.shunt.ffi.bpf;

import io.shunt.ffi.libc.Errno;

import java.util.List;

/**
 * An {@code sk_msg} program attached to a SOCKMAP or SOCKHASH ({@code bpf_prog_attach} with
 * BPF_SK_MSG_VERDICT): it runs on every {@code sendmsg} of every socket in the map. libbpf 1.1
 * has no link for this attach type, so the attachment has no fd of its own: it lasts as long as
 * the map does (pin the map to keep it) or until {@link #detach}.
 *
 * <p>Attaching again replaces the program the map had, so a restarted agent simply attaches its
 * freshly loaded program once more.
 */
public final class SkMsgAttachment {
    /** enum bpf_attach_type's BPF_SK_MSG_VERDICT. */
    static final int BPF_SK_MSG_VERDICT = 7;

    private SkMsgAttachment() {
    }

    /**
     * Makes {@code program} the map's sk_msg verdict program.
     *
     * @throws BpfException when the kernel refuses, e.g. EINVAL for a map that is no SOCKMAP/SOCKHASH
     *                      or a program that is no sk_msg program
     */
    public static void attach(BpfProgram program, BpfMap map) throws BpfException {
        int rc = Libbpf.invoke("bpf_prog_attach", () -> (int) Libbpf.handles().progAttach()
                .invokeExact(program.fd(), map.fd(), BPF_SK_MSG_VERDICT, 0));
        if (rc < 0) {
            throw new BpfException("bpf_prog_attach(" + program + " to " + map + ", BPF_SK_MSG_VERDICT)", -rc, List.of(), "",
                    -rc == Errno.EINVAL ? "the map must be a SOCKMAP or SOCKHASH and the program an sk_msg program" : "");
        }
    }

    /**
     * Detaches {@code program} from the map. The sockets stay in the map; bytes already moved into
     * a socket's queue stay readable there.
     *
     * @return false when {@code program} was not the map's sk_msg program (ENOENT)
     */
    public static boolean detach(BpfProgram program, BpfMap map) throws BpfException {
        int rc = Libbpf.invoke("bpf_prog_detach2", () -> (int) Libbpf.handles().progDetach2()
                .invokeExact(program.fd(), map.fd(), BPF_SK_MSG_VERDICT));
        if (rc == -Errno.ENOENT) {
            return false;
        }
        if (rc < 0) {
            throw new BpfException("bpf_prog_detach2(" + program + " from " + map + ", BPF_SK_MSG_VERDICT)", -rc);
        }
        return true;
    }
}
