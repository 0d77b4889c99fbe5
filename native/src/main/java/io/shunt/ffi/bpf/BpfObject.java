package io.shunt.ffi.bpf;

import io.shunt.ffi.libc.Errno;
import io.shunt.ffi.libc.internal.LibcHandles;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.function.Supplier;
import java.util.regex.Pattern;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * One BPF ELF object opened by libbpf: its programs and maps, loaded into the kernel by
 * {@link #load()}. Shunt's objects are compiled from {@code native/src/main/bpf/<name>.bpf.c}
 * during the build and read from the classpath by {@link #open(String)}.
 *
 * <p>The object has one owner, closes idempotently and is unusable after close. Its
 * {@link BpfProgram}s and {@link BpfMap}s are views that share its life. Closing releases this
 * process's references: a program stays in the kernel while a tc filter or a BPF link still
 * holds it, and a map while a pin or a program does. That is what lets attachments and pinned
 * maps outlive an agent restart.
 *
 * <p>Failures are {@link BpfException}s that carry libbpf's messages, and for a program the
 * verifier rejects, the verifier's log: the object asks libbpf to put the kernel's log into a
 * buffer it owns ({@code kernel_log_buf} of {@code bpf_object_open_opts}, libbpf 1.0+). With
 * {@code kernel_log_level} 0, libbpf loads without a log and retries a failed load with log
 * level 1, so a successful load costs nothing extra.
 */
public final class BpfObject implements AutoCloseable {
    /** Where the build puts the compiled objects, as a classpath folder. */
    public static final String RESOURCE_FOLDER = "/io/shunt/ffi/bpf/programs/";
    /**
     * The verifier log buffer. Kernels since 6.4 keep the log's tail when it overflows, older ones
     * its head (and fail the load with ENOSPC): 256 KiB holds the whole log of Shunt's programs.
     */
    static final int LOG_SIZE = 256 * 1024;
    private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    /** How libbpf 1.x names the program whose load failed. */
    private static final Pattern FAILED_PROGRAM = Pattern.compile("prog '([^']+)': (?:BPF program load failed|failed to)");

    private final String name;
    private final Arena arena;
    private final MemorySegment object;
    private final MemorySegment log;
    private final Guard guard;
    private volatile boolean loaded;
    private volatile boolean loadFailed;

    private BpfObject(String name, Arena arena, MemorySegment object, MemorySegment log) {
        this.name = name;
        this.arena = arena;
        this.object = object;
        this.log = log;
        this.guard = new Guard("BPF object " + name);
    }

    /**
     * Opens the object the build compiled from {@code <name>.bpf.c}, found on the classpath at
     * {@code /io/shunt/ffi/bpf/programs/<name>.bpf.o}. Nothing reaches the kernel until {@link #load()}.
     *
     * @param name the source's base name, e.g. {@code shunt_probe}
     */
    public static BpfObject open(String name) throws BpfException {
        checkName(name);
        String resource = RESOURCE_FOLDER + name + ".bpf.o";
        byte[] elf;
        try (InputStream in = BpfObject.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new BpfException("open BPF object " + name + " (classpath resource " + resource + ")",
                        Errno.ENOENT, List.of(), "", "the build of shunt-native compiles src/main/bpf/" + name
                        + ".bpf.c into that resource; is the source there, and was the jar built with clang installed?");
            }
            elf = in.readAllBytes();
        } catch (BpfException e) {
            throw e;
        } catch (IOException e) {
            throw new BpfException("read BPF object " + name + " (classpath resource " + resource + "): " + e.getMessage(),
                    Errno.EIO, List.of(), "", "");
        }
        return open(name, elf);
    }

    /**
     * Opens an object from its ELF bytes ({@code bpf_object__open_mem}); {@code name} becomes the
     * object's name in libbpf and in messages.
     *
     * @throws BpfException e.g. {@code LIBBPF_ERRNO__FORMAT} when the bytes are not a BPF ELF object
     */
    public static BpfObject open(String name, byte[] elf) throws BpfException {
        checkName(name);
        Libbpf.Handles h = Libbpf.handles();
        // Shared: the owner may close the object from another thread than the one that opened it.
        Arena arena = Arena.ofShared();
        try {
            // libbpf reads the ELF from this buffer and keeps a pointer to the log buffer until load,
            // so both live as long as the object.
            MemorySegment buffer = arena.allocate(Math.max(1, elf.length), 8);
            MemorySegment.copy(elf, 0, buffer, JAVA_BYTE, 0, elf.length);
            MemorySegment log = arena.allocate(LOG_SIZE);
            MemorySegment opts = arena.allocate(Libbpf.OPEN_OPTS);
            opts.set(JAVA_LONG, offset("sz"), Libbpf.OPEN_OPTS.byteSize());
            opts.set(ADDRESS, offset("object_name"), arena.allocateFrom(name));
            opts.set(ADDRESS, offset("kernel_log_buf"), log);
            opts.set(JAVA_LONG, offset("kernel_log_size"), (long) LOG_SIZE);
            opts.set(JAVA_INT, offset("kernel_log_level"), 0);
            MemorySegment object;
            int errno;
            List<String> printed;
            try (LibbpfLog.Capture capture = LibbpfLog.capture();
                 Arena call = Arena.ofConfined()) {
                MemorySegment state = LibcHandles.callState(call);
                object = Libbpf.invokePointer("bpf_object__open_mem",
                        () -> (MemorySegment) h.objectOpenMem().invokeExact(state, buffer, (long) elf.length, opts));
                errno = LibcHandles.errno(state);
                printed = capture.lines();
            }
            if (object.equals(MemorySegment.NULL)) {
                throw new BpfException("bpf_object__open_mem(" + name + ", " + elf.length + " bytes)",
                        errno == 0 ? Errno.EINVAL : errno, printed, "",
                        "the bytes are not a BPF object libbpf " + BpfProbes.libbpfVersion()
                                + " can read; rebuild it with clang -g -target bpf");
            }
            return new BpfObject(name, arena, object, log);
        } catch (BpfException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    public String name() {
        return name;
    }

    public boolean isLoaded() {
        return loaded;
    }

    /**
     * Before {@link #load()}: keeps map {@code map} pinned at {@code pin} ({@code bpf_map__set_pin_path}).
     * On load, libbpf reuses the map pinned there if its type, key, value, size and flags match the
     * object's definition, and otherwise creates the map and pins it there. A restarted agent
     * therefore finds the state its predecessor left; a definition that changed fails the load
     * with EINVAL ("couldn't reuse pinned map") instead of silently starting empty. Unpin with
     * {@link BpfMap#unpin(Path)} when the state should go.
     */
    public synchronized void pinMapOnLoad(String map, Path pin) throws IOException {
        guard.use(() -> {
            if (loaded || loadFailed) {
                throw new IllegalStateException("BPF object " + name + " was loaded already; pinMapOnLoad("
                        + map + ") must come before load()");
            }
            MemorySegment m = findMap(map);
            Bpffs.preparePinFolder(pin, "map " + map + " of BPF object " + name);
            int rc;
            try (Arena call = Arena.ofConfined()) {
                MemorySegment path = call.allocateFrom(pin.toAbsolutePath().toString());
                rc = Libbpf.invoke("bpf_map__set_pin_path",
                        () -> (int) Libbpf.handles().mapSetPinPath().invokeExact(m, path));
            }
            if (rc < 0) {
                throw new BpfException("bpf_map__set_pin_path(" + name + "." + map + ", " + pin + ")", -rc);
            }
            return null;
        });
    }

    /**
     * Creates the maps and loads every program into the kernel ({@code bpf_object__load}). libbpf
     * allows one attempt; after a failure nothing of the object stays in the kernel (libbpf unloads
     * what it had loaded and unpins maps it had just pinned) and only {@link #close()} remains.
     *
     * @throws BpfException naming the program that failed, with libbpf's messages and the
     *                      verifier's log; EPERM when the caller lacks CAP_BPF/CAP_SYS_ADMIN
     */
    public synchronized void load() throws BpfException {
        guard.use(() -> {
            if (loaded || loadFailed) {
                throw new IllegalStateException("BPF object " + name + " was loaded already; libbpf allows one load");
            }
            int rc;
            List<String> printed;
            try (LibbpfLog.Capture capture = LibbpfLog.capture()) {
                rc = Libbpf.invoke("bpf_object__load", () -> (int) Libbpf.handles().objectLoad().invokeExact(object));
                printed = capture.lines();
            }
            if (rc < 0) {
                loadFailed = true;
                String verifierLog = log.getString(0);
                Optional<String> program = printed.stream().map(FAILED_PROGRAM::matcher).filter(Matcher::find)
                        .map(m -> m.group(1)).findFirst();
                String call = "bpf_object__load(" + name + program.map(p -> ", program " + p).orElse("") + ")";
                throw new BpfException(call, -rc, printed, verifierLog, advice(-rc, verifierLog));
            }
            loaded = true;
            return null;
        });
    }

    private static String advice(int errno, String verifierLog) {
        if (errno == Errno.EPERM) {
            return "loading BPF needs CAP_BPF with CAP_NET_ADMIN, or CAP_SYS_ADMIN; run the agent with them";
        }
        if (!verifierLog.isBlank() && (errno == Errno.EACCES || errno == Errno.EINVAL)) {
            return "the kernel's verifier rejected the program: its log above ends with the reason; fix the C source";
        }
        return "";
    }

    /** The loaded program {@code name} (its C function's name). */
    public BpfProgram program(String program) throws BpfException {
        return guard.use(() -> {
            requireLoaded("program(" + program + ")");
            MemorySegment p = findProgram(program);
            int fd = Libbpf.invoke("bpf_program__fd", () -> (int) Libbpf.handles().programFd().invokeExact(p));
            if (fd < 0) {
                throw new BpfException("bpf_program__fd(" + name + "." + program + ")", -fd, List.of(), "",
                        "the program was not loaded (autoload off?)");
            }
            int id;
            try (Arena call = Arena.ofConfined()) {
                MemorySegment info = BpfFds.info(call, fd, Libbpf.PROG_INFO, "program " + name + "." + program);
                id = info.get(JAVA_INT, Libbpf.PROG_INFO.byteOffset(groupElement("id")));
            }
            return new BpfProgram(this, program, p, fd, id);
        });
    }

    /** The loaded map {@code name} (its C variable's name). */
    public BpfMap map(String map) throws BpfException {
        return guard.use(() -> {
            requireLoaded("map(" + map + ")");
            MemorySegment m = findMap(map);
            int fd = Libbpf.invoke("bpf_map__fd", () -> (int) Libbpf.handles().mapFd().invokeExact(m));
            if (fd < 0) {
                throw new BpfException("bpf_map__fd(" + name + "." + map + ")", -fd);
            }
            return BpfMap.of(map + " of BPF object " + name, fd, guard, false);
        });
    }

    /** The programs' names, in the object's order. */
    public List<String> programNames() {
        return guard.use(() -> names(Libbpf.handles().nextProgram(), Libbpf.handles().programName()));
    }

    /** The maps' names, in the object's order; libbpf's internal maps (e.g. {@code .rodata}) included. */
    public List<String> mapNames() {
        return guard.use(() -> names(Libbpf.handles().nextMap(), Libbpf.handles().mapName()));
    }

    /** Runs {@code call} while the object is open; what its programs and maps do to use their fds. */
    <T, X extends Exception> T use(Guard.Call<T, X> call) throws X {
        return guard.use(call);
    }

    @Override
    public void close() {
        guard.close(() -> {
            Libbpf.invoke("bpf_object__close", () -> {
                Libbpf.handles().objectClose().invokeExact(object);
                return 0;
            });
            arena.close();
        });
    }

    @Override
    public String toString() {
        return "BPF object " + name + (loaded ? " (loaded)" : loadFailed ? " (load failed)" : " (not loaded)");
    }

    private void requireLoaded(String what) {
        if (!loaded) {
            throw new IllegalStateException("BPF object " + name + (loadFailed ? " failed to load" : " is not loaded yet")
                    + "; " + what + " needs a successful load()");
        }
    }

    private MemorySegment findProgram(String program) throws BpfException {
        return find(program, "bpf_object__find_program_by_name", Libbpf.handles().findProgram(), "programs",
                this::programNames);
    }

    private MemorySegment findMap(String map) throws BpfException {
        return find(map, "bpf_object__find_map_by_name", Libbpf.handles().findMap(), "maps", this::mapNames);
    }

    private MemorySegment find(String wanted, String function, MethodHandle finder, String kind,
                               Supplier<List<String>> existing) throws BpfException {
        MemorySegment found;
        try (Arena call = Arena.ofConfined()) {
            MemorySegment state = LibcHandles.callState(call);
            MemorySegment text = call.allocateFrom(wanted);
            found = Libbpf.invokePointer(function, () -> (MemorySegment) finder.invokeExact(state, object, text));
        }
        if (found.equals(MemorySegment.NULL)) {
            throw new BpfException(function + "(" + name + ", " + wanted + ")", Errno.ENOENT, List.of(), "",
                    "BPF object " + name + " has the " + kind + " " + existing.get());
        }
        return found;
    }

    private List<String> names(MethodHandle next, MethodHandle nameOf) {
        List<String> out = new ArrayList<>();
        MemorySegment item = MemorySegment.NULL;
        while (true) {
            MemorySegment previous = item;
            item = Libbpf.invokePointer("bpf_object__next_*", () -> (MemorySegment) next.invokeExact(object, previous));
            if (item.equals(MemorySegment.NULL)) {
                return out;
            }
            MemorySegment current = item;
            MemorySegment text = Libbpf.invokePointer("bpf_*__name", () -> (MemorySegment) nameOf.invokeExact(current));
            out.add(text.reinterpret(256).getString(0));
        }
    }

    private static long offset(String field) {
        return Libbpf.OPEN_OPTS.byteOffset(groupElement(field));
    }

    private static void checkName(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("BPF object name '" + name + "' is not a C identifier like shunt_probe");
        }
    }
}
