package io.shunt.ffi.bpf;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * libbpf's own messages ("prog 'x': BPF program load failed: ...", "elf: ...", "map 'y': ..."),
 * caught through {@code libbpf_set_print} so they end up in Shunt's exceptions instead of on the
 * process's stderr.
 *
 * <p>libbpf calls {@code int print(enum libbpf_print_level, const char *fmt, va_list args)}.
 * Java cannot walk a {@code va_list}, so the callback hands {@code fmt} and {@code args} straight
 * to libc's {@code vsnprintf}. That relies on how the C ABI passes a {@code va_list}: as a pointer
 * on x86_64 (an array type that decays), on aarch64 (a 32-byte struct, passed by reference to a
 * copy) and on riscv64 ({@code void *}). On any other architecture the callback is not installed
 * and libbpf keeps printing to stderr.
 *
 * <p>The callback is process-wide (libbpf has one). Messages go to the capture that is open on the
 * calling thread, if any (libbpf calls back on the thread that called it); otherwise warnings go
 * to the {@code io.shunt.ffi.bpf.libbpf} logger. Debug messages are dropped unformatted.
 */
final class LibbpfLog {
    static final int LIBBPF_WARN = 0;
    static final int LIBBPF_INFO = 1;
    private static final int MESSAGE_MAX = 4096;
    private static final Set<String> VA_LIST_IS_A_POINTER = Set.of("amd64", "x86_64", "aarch64", "riscv64");
    private static final System.Logger LOG = System.getLogger("io.shunt.ffi.bpf.libbpf");
    private static final ThreadLocal<Capture> CAPTURE = new ThreadLocal<>();

    private static MethodHandle vsnprintf;

    private LibbpfLog() {
    }

    /** Installs the callback; called once, when the libbpf handles load. */
    static void install(MethodHandle setPrint) {
        if (!VA_LIST_IS_A_POINTER.contains(System.getProperty("os.arch"))) {
            return;
        }
        Linker linker = Linker.nativeLinker();
        // int vsnprintf(char *str, size_t size, const char *format, va_list ap)
        vsnprintf = linker.downcallHandle(linker.defaultLookup().find("vsnprintf").orElseThrow(() ->
                        new UnsatisfiedLinkError("libc symbol 'vsnprintf' not found by the JDK's default lookup")),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS));
        try {
            MethodHandle target = MethodHandles.lookup().findStatic(LibbpfLog.class, "print",
                    MethodType.methodType(int.class, int.class, MemorySegment.class, MemorySegment.class));
            // libbpf keeps the function pointer for the life of the process, so the stub must live as long.
            MemorySegment stub = linker.upcallStub(target, FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS),
                    Arena.global());
            MemorySegment previous = (MemorySegment) setPrint.invokeExact(stub);
        } catch (Throwable t) {
            throw new LinkageError("installing a libbpf print callback with libbpf_set_print", t);
        }
    }

    /** The upcall. It must not throw: an exception escaping an upcall ends the JVM. */
    private static int print(int level, MemorySegment format, MemorySegment args) {
        try {
            if (level > LIBBPF_INFO) {
                return 0;
            }
            String text;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(MESSAGE_MAX);
                int unused = (int) vsnprintf.invokeExact(buf, (long) MESSAGE_MAX, format, args);
                text = buf.getString(0).stripTrailing();
            }
            // libbpf prefixes its own messages; the exception says "libbpf:" once for all of them
            if (text.startsWith("libbpf: ")) {
                text = text.substring("libbpf: ".length());
            }
            Capture capture = CAPTURE.get();
            if (capture != null) {
                capture.lines.add(text);
            } else if (level == LIBBPF_WARN) {
                LOG.log(System.Logger.Level.WARNING, "libbpf: {0}", text);
            } else {
                LOG.log(System.Logger.Level.DEBUG, "libbpf: {0}", text);
            }
        } catch (Throwable ignored) {
            // losing one log line is better than losing the process
        }
        return 0;
    }

    /** Starts collecting libbpf's messages on this thread until the capture closes. */
    static Capture capture() {
        Capture capture = new Capture(CAPTURE.get());
        CAPTURE.set(capture);
        return capture;
    }

    /** libbpf's warnings and infos printed on one thread while it was open; nested captures see only their own. */
    static final class Capture implements AutoCloseable {
        private final Capture outer;
        private final List<String> lines = new ArrayList<>();

        private Capture(Capture outer) {
            this.outer = outer;
        }

        List<String> lines() {
            return List.copyOf(lines);
        }

        @Override
        public void close() {
            if (outer == null) {
                CAPTURE.remove();
            } else {
                CAPTURE.set(outer);
            }
        }
    }
}
