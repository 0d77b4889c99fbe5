package io.shunt.ffi.bpf;

import io.shunt.ffi.NativeLibrary;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.MemoryLayout.paddingLayout;
import static java.lang.foreign.MemoryLayout.sequenceLayout;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The libbpf.so.1 functions and struct layouts the loader uses, looked up on first use.
 *
 * <p>Two error conventions, both libbpf 1.x's: functions returning {@code int} return
 * {@code -errno}, functions returning a pointer return NULL and set errno, which the handle
 * captures ({@code $mh} handles marked "errno" take the capture segment as first argument).
 *
 * <p>The struct layouts are those of libbpf 1.1.2 (Debian 12), measured with a C program
 * compiled against {@code /usr/include/bpf} ({@code LibbpfLayoutTest} repeats the measurement on
 * every build). The {@code *_opts} structs start with their own size, {@code sz}; libbpf accepts
 * a smaller size from an older caller and rejects a larger one whose tail is not zero, so a
 * segment zeroed and sized exactly like the layout is the equivalent of {@code LIBBPF_OPTS}.
 */
final class Libbpf {
    static final String SONAME = "libbpf.so.1";
    static final String REQUIREMENT = "libbpf 1.1 or newer (the Debian/Ubuntu package libbpf1)";

    /** struct bpf_object_open_opts (libbpf.h); kernel_log_* since libbpf 1.0. */
    static final StructLayout OPEN_OPTS = MemoryLayout.structLayout(
            JAVA_LONG.withName("sz"),
            ADDRESS.withName("object_name"),
            JAVA_BOOLEAN.withName("relaxed_maps"),
            paddingLayout(7),
            ADDRESS.withName("pin_root_path"),
            JAVA_INT.withName("attach_prog_fd_stub"), // "__u32 :32", the removed attach_prog_fd
            paddingLayout(4),
            ADDRESS.withName("kconfig"),
            ADDRESS.withName("btf_custom_path"),
            ADDRESS.withName("kernel_log_buf"),
            JAVA_LONG.withName("kernel_log_size"),
            JAVA_INT.withName("kernel_log_level"),
            paddingLayout(4)).withName("bpf_object_open_opts");

    /** struct bpf_tc_hook (libbpf.h). */
    static final StructLayout TC_HOOK = MemoryLayout.structLayout(
            JAVA_LONG.withName("sz"),
            JAVA_INT.withName("ifindex"),
            JAVA_INT.withName("attach_point"),
            JAVA_INT.withName("parent"),
            paddingLayout(4)).withName("bpf_tc_hook");

    /** struct bpf_tc_opts (libbpf.h). */
    static final StructLayout TC_OPTS = MemoryLayout.structLayout(
            JAVA_LONG.withName("sz"),
            JAVA_INT.withName("prog_fd"),
            JAVA_INT.withName("flags"),
            JAVA_INT.withName("prog_id"),
            JAVA_INT.withName("handle"),
            JAVA_INT.withName("priority"),
            paddingLayout(4)).withName("bpf_tc_opts");

    /**
     * struct bpf_prog_info (linux/bpf.h of linux-libc-dev 6.1), only the fields read here named.
     * A newer kernel's larger struct is fine: it fills what fits in the size passed.
     */
    static final StructLayout PROG_INFO = MemoryLayout.structLayout(
            JAVA_INT.withName("type"),
            JAVA_INT.withName("id"),
            paddingLayout(56),
            sequenceLayout(16, JAVA_BYTE).withName("name"),
            paddingLayout(152)).withName("bpf_prog_info");

    /** struct bpf_map_info (linux/bpf.h), the leading fields. */
    static final StructLayout MAP_INFO = MemoryLayout.structLayout(
            JAVA_INT.withName("type"),
            JAVA_INT.withName("id"),
            JAVA_INT.withName("key_size"),
            JAVA_INT.withName("value_size"),
            JAVA_INT.withName("max_entries"),
            JAVA_INT.withName("map_flags"),
            sequenceLayout(16, JAVA_BYTE).withName("name"),
            paddingLayout(48)).withName("bpf_map_info");

    /** struct bpf_link_info (linux/bpf.h) with the cgroup member of its union. */
    static final StructLayout LINK_INFO = MemoryLayout.structLayout(
            JAVA_INT.withName("type"),
            JAVA_INT.withName("id"),
            JAVA_INT.withName("prog_id"),
            paddingLayout(4),
            JAVA_LONG.withName("cgroup_id"),
            JAVA_INT.withName("attach_type"),
            paddingLayout(20)).withName("bpf_link_info");

    /** BPF_TC_INGRESS, BPF_TC_EGRESS (enum bpf_tc_attach_point). */
    static final int BPF_TC_INGRESS = 1;
    static final int BPF_TC_EGRESS = 2;

    private Libbpf() {
    }

    static Handles handles() {
        return HANDLES.get();
    }

    /** libbpf's text for an errno or one of its own codes (4000 and above). */
    static String strerror(int error) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(256);
            int unused = (int) handles().strerror.invokeExact(error, buf, buf.byteSize());
            return buf.getString(0);
        } catch (Throwable t) {
            return "unknown error";
        }
    }

    /** A native call whose only checked failure is the Throwable of {@code invokeExact}. */
    @FunctionalInterface
    interface IntCall {
        int call() throws Throwable;
    }

    @FunctionalInterface
    interface PointerCall {
        MemorySegment call() throws Throwable;
    }

    /** Runs a downcall returning int; a failure of the call mechanism itself is a {@link LinkageError}. */
    static int invoke(String function, IntCall call) {
        try {
            return call.call();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new LinkageError("calling " + function + " in " + SONAME, t);
        }
    }

    static MemorySegment invokePointer(String function, PointerCall call) {
        try {
            return call.call();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new LinkageError("calling " + function + " in " + SONAME, t);
        }
    }

    /** A C string for libbpf, or NULL for null. */
    static MemorySegment cString(Arena arena, String text) {
        return text == null ? MemorySegment.NULL : arena.allocateFrom(text);
    }

    /** Loaded on first use, so a host without libbpf fails only when BPF is actually used. */
    private static final NativeLibrary.Lazy<Handles> HANDLES = new NativeLibrary.Lazy<>(Handles::load);

    record Handles(
            MethodHandle objectOpenMem, MethodHandle objectLoad, MethodHandle objectClose,
            MethodHandle findProgram, MethodHandle findMap, MethodHandle programFd, MethodHandle mapFd,
            MethodHandle mapSetPinPath,
            MethodHandle mapUpdate, MethodHandle mapLookup, MethodHandle mapDelete, MethodHandle mapNextKey,
            MethodHandle objGetInfo, MethodHandle objPin, MethodHandle objGet,
            MethodHandle tcHookCreate, MethodHandle tcHookDestroy, MethodHandle tcAttach, MethodHandle tcDetach,
            MethodHandle tcQuery,
            MethodHandle attachCgroup, MethodHandle attachNetns, MethodHandle linkOpen, MethodHandle linkFd, MethodHandle linkPin,
            MethodHandle linkUnpin, MethodHandle linkDetach, MethodHandle linkDestroy,
            MethodHandle setPrint, MethodHandle strerror,
            MethodHandle nextProgram, MethodHandle programName, MethodHandle nextMap, MethodHandle mapName,
            MethodHandle progAttach, MethodHandle progDetach2) {

        static Handles load() {
            NativeLibrary lib = NativeLibrary.open(SONAME, REQUIREMENT);
            Linker.Option errno = Linker.Option.captureCallState("errno");
            Handles handles = new Handles(
                    // struct bpf_object *bpf_object__open_mem(const void *buf, size_t size, const struct bpf_object_open_opts *opts) [errno]
                    lib.function("bpf_object__open_mem", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, ADDRESS), errno),
                    // int bpf_object__load(struct bpf_object *obj)
                    lib.function("bpf_object__load", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                    // void bpf_object__close(struct bpf_object *obj)
                    lib.function("bpf_object__close", FunctionDescriptor.ofVoid(ADDRESS)),
                    // struct bpf_program *bpf_object__find_program_by_name(const struct bpf_object *obj, const char *name) [errno]
                    lib.function("bpf_object__find_program_by_name", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS), errno),
                    // struct bpf_map *bpf_object__find_map_by_name(const struct bpf_object *obj, const char *name) [errno]
                    lib.function("bpf_object__find_map_by_name", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS), errno),
                    // int bpf_program__fd(const struct bpf_program *prog)
                    lib.function("bpf_program__fd", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                    // int bpf_map__fd(const struct bpf_map *map)
                    lib.function("bpf_map__fd", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                    // int bpf_map__set_pin_path(struct bpf_map *map, const char *path)
                    lib.function("bpf_map__set_pin_path", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS)),
                    // int bpf_map_update_elem(int fd, const void *key, const void *value, __u64 flags)
                    lib.function("bpf_map_update_elem", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG)),
                    // int bpf_map_lookup_elem(int fd, const void *key, void *value)
                    lib.function("bpf_map_lookup_elem", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS)),
                    // int bpf_map_delete_elem(int fd, const void *key)
                    lib.function("bpf_map_delete_elem", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS)),
                    // int bpf_map_get_next_key(int fd, const void *key, void *next_key)
                    lib.function("bpf_map_get_next_key", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS)),
                    // int bpf_obj_get_info_by_fd(int bpf_fd, void *info, __u32 *info_len)
                    lib.function("bpf_obj_get_info_by_fd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS)),
                    // int bpf_obj_pin(int fd, const char *pathname)
                    lib.function("bpf_obj_pin", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS)),
                    // int bpf_obj_get(const char *pathname): an fd, or -errno
                    lib.function("bpf_obj_get", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                    // int bpf_tc_hook_create(struct bpf_tc_hook *hook)
                    lib.function("bpf_tc_hook_create", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                    // int bpf_tc_hook_destroy(struct bpf_tc_hook *hook)
                    lib.function("bpf_tc_hook_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                    // int bpf_tc_attach(const struct bpf_tc_hook *hook, struct bpf_tc_opts *opts)
                    lib.function("bpf_tc_attach", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS)),
                    // int bpf_tc_detach(const struct bpf_tc_hook *hook, const struct bpf_tc_opts *opts)
                    lib.function("bpf_tc_detach", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS)),
                    // int bpf_tc_query(const struct bpf_tc_hook *hook, struct bpf_tc_opts *opts)
                    lib.function("bpf_tc_query", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS)),
                    // struct bpf_link *bpf_program__attach_cgroup(const struct bpf_program *prog, int cgroup_fd) [errno]
                    lib.function("bpf_program__attach_cgroup", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT), errno),
                    // struct bpf_link *bpf_program__attach_netns(const struct bpf_program *prog, int netns_fd) [errno]
                    lib.function("bpf_program__attach_netns", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT), errno),
                    // struct bpf_link *bpf_link__open(const char *path) [errno]
                    lib.function("bpf_link__open", FunctionDescriptor.of(ADDRESS, ADDRESS), errno),
                    // int bpf_link__fd(const struct bpf_link *link)
                    lib.function("bpf_link__fd", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                    // int bpf_link__pin(struct bpf_link *link, const char *path)
                    lib.function("bpf_link__pin", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS)),
                    // int bpf_link__unpin(struct bpf_link *link)
                    lib.function("bpf_link__unpin", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                    // int bpf_link__detach(struct bpf_link *link)
                    lib.function("bpf_link__detach", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                    // int bpf_link__destroy(struct bpf_link *link)
                    lib.function("bpf_link__destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                    // libbpf_print_fn_t libbpf_set_print(libbpf_print_fn_t fn)
                    lib.function("libbpf_set_print", FunctionDescriptor.of(ADDRESS, ADDRESS)),
                    // int libbpf_strerror(int err, char *buf, size_t size)
                    lib.function("libbpf_strerror", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG)),
                    // struct bpf_program *bpf_object__next_program(const struct bpf_object *obj, struct bpf_program *prev)
                    lib.function("bpf_object__next_program", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS)),
                    // const char *bpf_program__name(const struct bpf_program *prog)
                    lib.function("bpf_program__name", FunctionDescriptor.of(ADDRESS, ADDRESS)),
                    // struct bpf_map *bpf_object__next_map(const struct bpf_object *obj, const struct bpf_map *prev)
                    lib.function("bpf_object__next_map", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS)),
                    // const char *bpf_map__name(const struct bpf_map *map)
                    lib.function("bpf_map__name", FunctionDescriptor.of(ADDRESS, ADDRESS)),
                    // int bpf_prog_attach(int prog_fd, int attachable_fd, enum bpf_attach_type type, unsigned int flags)
                    lib.function("bpf_prog_attach", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT)),
                    // int bpf_prog_detach2(int prog_fd, int attachable_fd, enum bpf_attach_type type)
                    lib.function("bpf_prog_detach2", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT)));
            LibbpfLog.install(handles.setPrint);
            return handles;
        }
    }
}
