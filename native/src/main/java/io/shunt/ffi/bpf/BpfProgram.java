package io.shunt.ffi.bpf;

import java.lang.foreign.MemorySegment;

/**
 * A loaded program of a {@link BpfObject}: a view that lives as long as its object. Attach it with
 * {@link TcAttachment#attach} or {@link CgroupAttachment#attach}; an attachment keeps the program
 * in the kernel after the object is closed.
 */
public final class BpfProgram {
    private final BpfObject object;
    private final String name;
    private final MemorySegment program;
    private final int fd;
    private final int id;

    BpfProgram(BpfObject object, String name, MemorySegment program, int fd, int id) {
        this.object = object;
        this.name = name;
        this.program = program;
        this.fd = fd;
        this.id = id;
    }

    /** The C function's name. The kernel keeps only its first 15 characters; {@link #id()} is exact. */
    public String name() {
        return name;
    }

    /** The fd, owned by the object: valid until the object closes. */
    public int fd() {
        return fd;
    }

    /** The kernel's id for the program, as {@code bpftool prog show id N} takes it. */
    public int id() {
        return id;
    }

    public BpfObject object() {
        return object;
    }

    /** libbpf's {@code struct bpf_program *}, for calls made through {@link #use}. */
    MemorySegment pointer() {
        return program;
    }

    /** Runs {@code call} while the object is open, so the fd cannot be closed under it. */
    <T, X extends Exception> T use(Guard.Call<T, X> call) throws X {
        return object.use(call);
    }

    @Override
    public String toString() {
        return "program " + name + " (id " + id + ") of BPF object " + object.name();
    }
}
