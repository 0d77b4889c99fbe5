package io.shunt.ffi.bpf;

import io.shunt.ffi.libc.Errno;
import io.shunt.ffi.libc.NativeCallException;
import io.shunt.ffi.rtnl.TcFilters;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A {@code sched_cls} program attached as a direct-action tc filter to the ingress or egress hook
 * of an interface's clsact qdisc ({@code bpf_tc_hook_create}, {@code bpf_tc_attach}). libbpf 1.1
 * has no TCX links, so the filter is no fd: it stays until it is detached or the interface goes,
 * whatever happens to this process. A restarted agent finds its filters with {@link #find}.
 *
 * <p>Every call works in the network namespace of the calling thread, as tc does: wrap attach and
 * detach in {@code NetNs.run} of the pod's namespace. The attachment remembers its namespace and
 * refuses to detach from another, where the same ifindex names a different interface.
 *
 * <p>The clsact qdisc is shared by everything on the interface. {@link #attach} creates it when it
 * is missing and tolerates one that exists. {@link #detach} removes only its own filter, and then
 * the qdisc as well if this process created it and an RTM_GETTFILTER dump shows no filter left on
 * either of its hooks, so an interface Shunt touched ends as it was found, whichever of its
 * attachments goes last. A qdisc found existing is never removed, and neither is one a previous
 * agent process created (the record of what was created lives in memory); an empty clsact qdisc
 * costs nothing and goes with the pod's namespace. Two races are accepted: a filter someone else
 * attaches between the dump and the removal is lost with the qdisc (Shunt owns the pod interfaces
 * it attaches to), and a namespace destroyed with Shunt's filters still attached leaves its record,
 * so a later namespace that reuses its nsfs inode could see an empty qdisc of its own removed.
 */
public final class TcAttachment implements AutoCloseable {
    /** The clsact qdiscs this process created and has not removed yet. */
    private static final Set<Qdisc> CREATED = new HashSet<>();
    /** Serialises the decisions to create and remove qdiscs, so no two threads race on one interface. */
    private static final Object QDISCS = new Object();

    private record Qdisc(long netnsInode, int ifindex) {
    }

    private final int ifindex;
    private final boolean ingress;
    private final int priority;
    private final int handle;
    private final int programId;
    private final String program;
    private final boolean createdQdisc;
    private final long netnsInode;
    private boolean detached;

    private TcAttachment(int ifindex, boolean ingress, int priority, int handle, int programId, String program,
                         boolean createdQdisc, long netnsInode) {
        this.ifindex = ifindex;
        this.ingress = ingress;
        this.priority = priority;
        this.handle = handle;
        this.programId = programId;
        this.program = program;
        this.createdQdisc = createdQdisc;
        this.netnsInode = netnsInode;
    }

    /**
     * Attaches {@code program} to the ingress (or egress) hook of interface {@code ifindex} in the
     * calling thread's network namespace, as filter {@code priority}/{@code handle}. Both are
     * explicit, never left to the kernel, so the filter can be found again after a restart.
     *
     * @param priority 1..65535; lower runs first
     * @param handle   non-zero, unique among the filters of that priority
     * @throws BpfException ENODEV when no interface has that index here; EEXIST when a filter with
     *                      this priority and handle is attached already
     */
    public static TcAttachment attach(int ifindex, boolean ingress, BpfProgram program, int priority, int handle)
            throws IOException {
        checkFilter(ifindex, priority, handle);
        Qdisc qdisc = new Qdisc(currentNetnsInode(), ifindex);
        String where = where(ifindex, ingress, priority, handle);
        synchronized (QDISCS) {
            try (Arena arena = Arena.ofConfined(); LibbpfLog.Capture capture = LibbpfLog.capture()) {
                MemorySegment hook = hook(arena, ifindex, ingress ? Libbpf.BPF_TC_INGRESS : Libbpf.BPF_TC_EGRESS);
                int rc = Libbpf.invoke("bpf_tc_hook_create", () -> (int) Libbpf.handles().tcHookCreate().invokeExact(hook));
                if (rc < 0 && rc != -Errno.EEXIST) {
                    throw new BpfException("bpf_tc_hook_create(ifindex " + ifindex + ", clsact)", -rc, capture.lines(),
                            "", -rc == Errno.ENODEV ? noInterface(ifindex) : "");
                }
                boolean created = rc == 0;
                if (created) {
                    CREATED.add(qdisc);
                }
                MemorySegment opts = opts(arena, handle, priority);
                int attached = program.use(() -> {
                    opts.set(JAVA_INT, tcOffset("prog_fd"), program.fd());
                    return Libbpf.invoke("bpf_tc_attach", () -> (int) Libbpf.handles().tcAttach().invokeExact(hook, opts));
                });
                if (attached < 0) {
                    BpfException failure = new BpfException("bpf_tc_attach(" + program + ", " + where + ")", -attached,
                            capture.lines(), "", -attached == Errno.EEXIST
                            ? "a filter with this priority and handle is attached already; detach it or pick another"
                            : -attached == Errno.ENODEV ? noInterface(ifindex) : "");
                    try {
                        removeQdiscIfOursAndEmpty(qdisc);
                    } catch (IOException e) {
                        failure.addSuppressed(e);
                    }
                    throw failure;
                }
                return new TcAttachment(ifindex, ingress, priority, handle, opts.get(JAVA_INT, tcOffset("prog_id")),
                        program.name(), created, qdisc.netnsInode());
            }
        }
    }

    /**
     * The filter {@code priority}/{@code handle} on the hook, if a BPF program is attached there
     * ({@code bpf_tc_query}), e.g. to take over what a previous agent attached. Its
     * {@link #detach()} removes the qdisc only if this process created it (see the class comment).
     */
    public static Optional<TcAttachment> find(int ifindex, boolean ingress, int priority, int handle) throws IOException {
        checkFilter(ifindex, priority, handle);
        try (Arena arena = Arena.ofConfined(); LibbpfLog.Capture capture = LibbpfLog.capture()) {
            MemorySegment hook = hook(arena, ifindex, ingress ? Libbpf.BPF_TC_INGRESS : Libbpf.BPF_TC_EGRESS);
            MemorySegment opts = opts(arena, handle, priority);
            int rc = Libbpf.invoke("bpf_tc_query", () -> (int) Libbpf.handles().tcQuery().invokeExact(hook, opts));
            // ENOENT: no such filter; EINVAL: no clsact qdisc at all
            if (rc == -Errno.ENOENT || rc == -Errno.EINVAL) {
                return Optional.empty();
            }
            if (rc < 0) {
                throw new BpfException("bpf_tc_query(" + where(ifindex, ingress, priority, handle) + ")", -rc,
                        capture.lines(), "", -rc == Errno.ENODEV ? noInterface(ifindex) : "");
            }
            return Optional.of(new TcAttachment(ifindex, ingress, priority, handle,
                    opts.get(JAVA_INT, tcOffset("prog_id")), "program id " + opts.get(JAVA_INT, tcOffset("prog_id")),
                    false, currentNetnsInode()));
        }
    }

    public int ifindex() {
        return ifindex;
    }

    public boolean ingress() {
        return ingress;
    }

    public int priority() {
        return priority;
    }

    public int handle() {
        return handle;
    }

    /** The attached program's kernel id. */
    public int programId() {
        return programId;
    }

    /** Whether this {@link #attach} created the interface's clsact qdisc. */
    public boolean createdQdisc() {
        return createdQdisc;
    }

    /**
     * Removes the filter ({@code bpf_tc_detach}) and, when this process created the clsact qdisc
     * and nothing else is attached to it, the qdisc. Idempotent; a filter that is already
     * gone (removed by someone else, or its interface deleted) counts as detached.
     *
     * @throws IllegalStateException when the calling thread is in another network namespace than the attach
     */
    public synchronized void detach() throws IOException {
        if (detached) {
            return;
        }
        long here = currentNetnsInode();
        if (here != netnsInode) {
            throw new IllegalStateException("detaching " + this + " from netns inode " + here + ", but it was attached "
                    + "in netns inode " + netnsInode + "; call detach inside NetNs.run of that namespace");
        }
        try (Arena arena = Arena.ofConfined(); LibbpfLog.Capture capture = LibbpfLog.capture()) {
            MemorySegment hook = hook(arena, ifindex, ingress ? Libbpf.BPF_TC_INGRESS : Libbpf.BPF_TC_EGRESS);
            MemorySegment opts = opts(arena, handle, priority);
            int rc = Libbpf.invoke("bpf_tc_detach", () -> (int) Libbpf.handles().tcDetach().invokeExact(hook, opts));
            if (rc < 0 && stillAttached()) {
                throw new BpfException("bpf_tc_detach(" + where(ifindex, ingress, priority, handle) + ")", -rc,
                        capture.lines(), "", "");
            }
        }
        detached = true;
        synchronized (QDISCS) {
            removeQdiscIfOursAndEmpty(new Qdisc(netnsInode, ifindex));
        }
    }

    /** {@link #detach()}: a tc filter has no fd whose release would remove it. */
    @Override
    public void close() throws IOException {
        detach();
    }

    @Override
    public String toString() {
        return program + " at " + where(ifindex, ingress, priority, handle);
    }

    /** Whether this filter is still listed on its hook; an interface that is gone has no filters. */
    private boolean stillAttached() throws NativeCallException {
        try {
            return TcFilters.list(ifindex, ingress ? TcFilters.CLSACT_INGRESS : TcFilters.CLSACT_EGRESS).stream()
                    .anyMatch(f -> f.priority() == priority && f.handle() == handle);
        } catch (NativeCallException e) {
            if (e.errno() == Errno.ENODEV) {
                return false;
            }
            throw e;
        }
    }

    /**
     * Removes the clsact qdisc when this process created it and neither of its hooks has a filter
     * left. Called with the {@link #QDISCS} lock held, in the qdisc's namespace.
     */
    private static void removeQdiscIfOursAndEmpty(Qdisc qdisc) throws IOException {
        if (!CREATED.contains(qdisc)) {
            return;
        }
        List<TcFilters.TcFilter> left = new ArrayList<>();
        try {
            left.addAll(TcFilters.list(qdisc.ifindex(), TcFilters.CLSACT_INGRESS));
            left.addAll(TcFilters.list(qdisc.ifindex(), TcFilters.CLSACT_EGRESS));
        } catch (NativeCallException e) {
            if (e.errno() == Errno.ENODEV) {
                CREATED.remove(qdisc); // the interface is gone, and its qdisc with it
                return;
            }
            throw e;
        }
        if (!left.isEmpty()) {
            return;
        }
        try (Arena arena = Arena.ofConfined(); LibbpfLog.Capture capture = LibbpfLog.capture()) {
            // INGRESS|EGRESS deletes the qdisc itself; either alone would flush that hook's filters.
            MemorySegment hook = hook(arena, qdisc.ifindex(), Libbpf.BPF_TC_INGRESS | Libbpf.BPF_TC_EGRESS);
            int rc = Libbpf.invoke("bpf_tc_hook_destroy", () -> (int) Libbpf.handles().tcHookDestroy().invokeExact(hook));
            // ENOENT/EINVAL: someone removed the qdisc already
            if (rc < 0 && rc != -Errno.ENOENT && rc != -Errno.EINVAL && rc != -Errno.ENODEV) {
                throw new BpfException("bpf_tc_hook_destroy(ifindex " + qdisc.ifindex() + ", clsact)", -rc,
                        capture.lines(), "", "the filter is detached, but the empty clsact qdisc Shunt created stays: "
                        + "remove it with 'tc qdisc del dev <interface> clsact' inside the namespace");
            }
            CREATED.remove(qdisc);
        }
    }

    private static MemorySegment hook(Arena arena, int ifindex, int attachPoint) {
        MemorySegment hook = arena.allocate(Libbpf.TC_HOOK);
        hook.set(JAVA_LONG, Libbpf.TC_HOOK.byteOffset(groupElement("sz")), Libbpf.TC_HOOK.byteSize());
        hook.set(JAVA_INT, Libbpf.TC_HOOK.byteOffset(groupElement("ifindex")), ifindex);
        hook.set(JAVA_INT, Libbpf.TC_HOOK.byteOffset(groupElement("attach_point")), attachPoint);
        return hook;
    }

    /** bpf_tc_opts naming one filter; prog_fd, prog_id and flags stay 0, as detach and query require. */
    private static MemorySegment opts(Arena arena, int handle, int priority) {
        MemorySegment opts = arena.allocate(Libbpf.TC_OPTS);
        opts.set(JAVA_LONG, tcOffset("sz"), Libbpf.TC_OPTS.byteSize());
        opts.set(JAVA_INT, tcOffset("handle"), handle);
        opts.set(JAVA_INT, tcOffset("priority"), priority);
        return opts;
    }

    private static long tcOffset(String field) {
        return Libbpf.TC_OPTS.byteOffset(groupElement(field));
    }

    private static void checkFilter(int ifindex, int priority, int handle) {
        if (ifindex <= 0) {
            throw new IllegalArgumentException("ifindex must be positive, got " + ifindex);
        }
        if (priority < 1 || priority > 0xFFFF) {
            throw new IllegalArgumentException("tc filter priority must be 1..65535, got " + priority);
        }
        if (handle == 0) {
            throw new IllegalArgumentException("tc filter handle must be non-zero, so the filter can be found again");
        }
    }

    private static String where(int ifindex, boolean ingress, int priority, int handle) {
        return "ifindex " + ifindex + " " + (ingress ? "ingress" : "egress") + " prio " + priority + " handle 0x"
                + Integer.toHexString(handle);
    }

    private static String noInterface(int ifindex) {
        return "no interface has index " + ifindex + " in this thread's network namespace; attach inside NetNs.run "
                + "of the namespace that has it";
    }

    private static long currentNetnsInode() throws IOException {
        return (Long) Files.getAttribute(Path.of("/proc/thread-self/ns/net"), "unix:ino");
    }
}
