package io.shunt.ffi.bpf;

import io.shunt.ffi.libc.Mounts;
import io.shunt.ffi.libc.NativeCallException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * The BPF filesystem, where maps and links are pinned so they outlive the process that made them.
 * Shunt pins under {@code <bpffs>/shunt/<technique>/} ({@link #techniqueFolder}). No bpffs is
 * mounted on some hosts (this project's among them), so the agent mounts one where it pins.
 */
public final class Bpffs {
    /** Mount data: only root may look inside, as pins are handles on kernel objects. */
    static final String MOUNT_OPTIONS = "mode=0700";
    private static final Pattern TECHNIQUE = Pattern.compile("[a-z][a-z0-9_-]*");

    private Bpffs() {
    }

    /** Whether {@code path} (which must exist) is on a bpffs ({@code statfs} f_type BPF_FS_MAGIC). */
    public static boolean isBpffs(Path path) throws NativeCallException {
        return Mounts.filesystemType(path) == Mounts.BPF_FS_MAGIC;
    }

    /**
     * Makes sure {@code dir} is on a bpffs: when it is not, mounts one there
     * ({@code mount("bpf", dir, "bpf", 0, "mode=0700")}). Call it only on a folder the caller owns
     * (e.g. the agent's configured pin root, or a test's {@code /tmp/shunt-bpffs-*}), since the
     * mount hides whatever the folder held.
     *
     * @return true when this call mounted the bpffs (the caller may {@link #unmount} it later),
     *         false when {@code dir} was on one already
     * @throws NoSuchFileException   when {@code dir} does not exist
     * @throws NotDirectoryException when it is not a folder
     * @throws NativeCallException   when mount fails, e.g. EPERM without CAP_SYS_ADMIN
     */
    public static boolean ensureMounted(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            throw new NoSuchFileException(dir.toString(), null, "cannot mount a bpffs there: create the folder first");
        }
        if (!Files.isDirectory(dir)) {
            throw new NotDirectoryException(dir + " (a bpffs can only be mounted on a folder)");
        }
        if (isBpffs(dir)) {
            return false;
        }
        Mounts.mount("bpf", dir, "bpf", 0, MOUNT_OPTIONS);
        return true;
    }

    /**
     * Unmounts the bpffs mounted at {@code dir}. Pins still inside are dropped with it, and the
     * kernel frees each object no process or attachment holds any more.
     *
     * @throws IOException when {@code dir} is not on a bpffs; EINVAL when it is inside one but not
     *                     its mount point, EBUSY while a process uses it
     */
    public static void unmount(Path dir) throws IOException {
        if (!isBpffs(dir)) {
            throw new IOException("not unmounting " + dir + ": it is not on a bpffs");
        }
        Mounts.umount2(dir, 0);
    }

    /**
     * {@code <bpffsRoot>/shunt/<technique>}, created if missing: where a technique pins its maps
     * and links, so one {@code ls} shows everything of one technique and nothing of anyone else.
     */
    public static Path techniqueFolder(Path bpffsRoot, String technique) throws IOException {
        if (!TECHNIQUE.matcher(technique).matches()) {
            throw new IllegalArgumentException("technique id '" + technique + "' is not a lower-case word like 'tc'");
        }
        Path folder = bpffsRoot.resolve("shunt").resolve(technique);
        preparePinFolder(folder.resolve("_"), "pins of technique " + technique);
        return folder;
    }

    /**
     * Creates the folder {@code pin} goes into, after checking that it is on a bpffs: the kernel
     * can only pin there, and says only EPERM otherwise.
     */
    static void preparePinFolder(Path pin, String what) throws IOException {
        Path folder = pin.toAbsolutePath().getParent();
        Path existing = folder;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null || !isBpffs(existing)) {
            throw new IOException("cannot pin " + what + " at " + pin + ": " + (existing == null ? folder : existing)
                    + " is not on a bpffs; pin under a bpffs mount (Bpffs.ensureMounted)");
        }
        Files.createDirectories(folder);
    }
}
