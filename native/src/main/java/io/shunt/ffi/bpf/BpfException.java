package io.shunt.ffi.bpf;

import io.shunt.ffi.libc.Errno;

import java.io.IOException;
import java.util.List;

/**
 * A libbpf or bpf() call failed. The message names the call with its object (BPF object, program,
 * map, link, interface or cgroup), the error's symbolic name and text, what libbpf printed while
 * it worked, and for a rejected program the tail of the verifier's log, e.g.
 * {@code bpf_object__load(shunt_reject) failed in program shunt_tc_reject: EACCES (Permission
 * denied); libbpf: prog 'shunt_tc_reject': BPF program load failed: Permission denied; verifier
 * log (last 3 of 12 lines): ...}.
 *
 * <p>The error is an errno, or one of libbpf's own codes from 4000 on ({@code LIBBPF_ERRNO__*},
 * e.g. {@code LIBBPF_ERRNO__FORMAT} for bytes that are not a BPF ELF object).
 */
public class BpfException extends IOException {
    /** The verifier log lines a message carries at most; {@link #verifierLog()} has all of it. */
    static final int LOG_TAIL_LINES = 25;

    private static final List<String> LIBBPF_ERRNO_NAMES = List.of("LIBELF", "FORMAT", "KVERSION", "ENDIAN",
            "INTERNAL", "RELOC", "LOAD", "VERIFY", "PROG2BIG", "KVER", "PROGTYPE", "WRNGPID", "INVSEQ", "NLPARSE");
    private static final int LIBBPF_ERRNO_START = 4000;

    private final String call;
    private final int errno;
    private final List<String> libbpfLog;
    private final String verifierLog;

    /**
     * @param call        the call with its input, e.g. {@code bpf_tc_attach(ifindex=1 ingress, shunt_tc_pass)}
     * @param errno       positive errno or libbpf error code
     * @param libbpfLog   what libbpf printed during the call, possibly empty
     * @param verifierLog the kernel's log for the failed load, possibly empty
     * @param advice      what the caller can do about it, appended to the message; may be empty
     */
    BpfException(String call, int errno, List<String> libbpfLog, String verifierLog, String advice) {
        super(message(call, errno, libbpfLog, verifierLog, advice));
        this.call = call;
        this.errno = errno;
        this.libbpfLog = List.copyOf(libbpfLog);
        this.verifierLog = verifierLog;
    }

    BpfException(String call, int errno) {
        this(call, errno, List.of(), "", "");
    }

    /** The call and its input, as it appears in the message. */
    public String call() {
        return call;
    }

    /** The errno, or a libbpf error code (4000 and above). */
    public int errno() {
        return errno;
    }

    /** E.g. {@code EACCES} or {@code LIBBPF_ERRNO__FORMAT}. */
    public String errnoName() {
        return errorName(errno);
    }

    /** libbpf's warnings and infos printed during the call, in order. */
    public List<String> libbpfLog() {
        return libbpfLog;
    }

    /** The whole verifier log of a rejected program load; empty for other failures. */
    public String verifierLog() {
        return verifierLog;
    }

    static String errorName(int errno) {
        int libbpf = errno - LIBBPF_ERRNO_START;
        if (libbpf >= 0 && libbpf < LIBBPF_ERRNO_NAMES.size()) {
            return "LIBBPF_ERRNO__" + LIBBPF_ERRNO_NAMES.get(libbpf);
        }
        return Errno.name(errno);
    }

    /** {@code NAME (text)}; the text of a libbpf code comes from {@code libbpf_strerror}. */
    static String errorText(int errno) {
        String text = errno >= LIBBPF_ERRNO_START ? Libbpf.strerror(errno) : Errno.describe(errno);
        return errorName(errno) + " (" + text + ")";
    }

    private static String message(String call, int errno, List<String> libbpfLog, String verifierLog, String advice) {
        StringBuilder out = new StringBuilder(call).append(" failed: ").append(errorText(errno));
        if (!libbpfLog.isEmpty()) {
            out.append("; libbpf: ").append(String.join(" | ", libbpfLog));
        }
        List<String> lines = verifierLog.lines().filter(l -> !l.isBlank()).toList();
        if (!lines.isEmpty()) {
            int from = Math.max(0, lines.size() - LOG_TAIL_LINES);
            out.append("; verifier log")
                    .append(from == 0 ? "" : " (last " + (lines.size() - from) + " of " + lines.size() + " lines)")
                    .append(":\n  ").append(String.join("\n  ", lines.subList(from, lines.size())));
        }
        if (!advice.isEmpty()) {
            out.append(lines.isEmpty() ? "; " : "\n").append(advice);
        }
        return out.toString();
    }
}
