package io.shunt.ffi.nft;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * libnftables through FFM: runs an nft script as one netlink transaction in the network
 * namespace of the calling thread (enter a pod's namespace with {@code NetNs.run} first). Either
 * every command of the script applies or none does.
 */
public final class Nftables {
    private static final int NFT_CTX_DEFAULT = 0;
    private static final int NFT_CTX_OUTPUT_JSON = 1 << 4;

    private Nftables() {
    }

    /** Runs {@code script} and returns what nft printed (e.g. for {@code list} commands). */
    public static String run(String script) throws NftException {
        return run(script, false);
    }

    /** Runs {@code script} with JSON output, for reading rules back as data. */
    public static String runJson(String script) throws NftException {
        return run(script, true);
    }

    private static String run(String script, boolean json) throws NftException {
        Handles h = Handles.get();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ctx = (MemorySegment) h.ctxNew.invokeExact(NFT_CTX_DEFAULT);
            if (ctx.equals(MemorySegment.NULL)) {
                throw new NftException("nft_ctx_new returned NULL (out of memory?)", script, "");
            }
            try {
                if (json) {
                    h.outputSetFlags.invokeExact(ctx, NFT_CTX_OUTPUT_JSON);
                }
                int unusedOut = (int) h.bufferOutput.invokeExact(ctx);
                int unusedErr = (int) h.bufferError.invokeExact(ctx);
                int rc = (int) h.runCmd.invokeExact(ctx, arena.allocateFrom(script));
                String output = text((MemorySegment) h.outputBuffer.invokeExact(ctx));
                String errors = text((MemorySegment) h.errorBuffer.invokeExact(ctx));
                if (rc != 0) {
                    throw new NftException("nft rejected the script", script, errors);
                }
                return output;
            } finally {
                h.ctxFree.invokeExact(ctx);
            }
        } catch (NftException e) {
            throw e;
        } catch (Throwable t) {
            throw new LinkageError("calling libnftables", t);
        }
    }

    private static String text(MemorySegment cString) {
        return cString.equals(MemorySegment.NULL) ? "" : cString.reinterpret(Long.MAX_VALUE).getString(0);
    }

    /** Loaded on first use, so a host without libnftables fails only when nftables is actually needed. */
    private record Handles(MethodHandle ctxNew, MethodHandle ctxFree, MethodHandle outputSetFlags,
                           MethodHandle bufferOutput, MethodHandle bufferError, MethodHandle outputBuffer,
                           MethodHandle errorBuffer, MethodHandle runCmd) {
        private static final String LIBRARY = "libnftables.so.1";
        private static volatile Handles instance;

        static Handles get() {
            Handles h = instance;
            if (h == null) {
                synchronized (Handles.class) {
                    if (instance == null) {
                        instance = load();
                    }
                    h = instance;
                }
            }
            return h;
        }

        private static Handles load() {
            SymbolLookup lib;
            try {
                // The library stays loaded for the life of the process, like any shared library.
                lib = SymbolLookup.libraryLookup(LIBRARY, Arena.global());
            } catch (IllegalArgumentException e) {
                throw new UnsatisfiedLinkError(LIBRARY + " could not be loaded: install the Debian/Ubuntu package "
                        + "libnftables1 (scripts/setup does), then retry");
            }
            Linker linker = Linker.nativeLinker();
            return new Handles(
                    handle(linker, lib, "nft_ctx_new", FunctionDescriptor.of(ADDRESS, JAVA_INT)),
                    handle(linker, lib, "nft_ctx_free", FunctionDescriptor.ofVoid(ADDRESS)),
                    handle(linker, lib, "nft_ctx_output_set_flags", FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT)),
                    handle(linker, lib, "nft_ctx_buffer_output", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                    handle(linker, lib, "nft_ctx_buffer_error", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                    handle(linker, lib, "nft_ctx_get_output_buffer", FunctionDescriptor.of(ADDRESS, ADDRESS)),
                    handle(linker, lib, "nft_ctx_get_error_buffer", FunctionDescriptor.of(ADDRESS, ADDRESS)),
                    handle(linker, lib, "nft_run_cmd_from_buffer", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS)));
        }

        private static MethodHandle handle(Linker linker, SymbolLookup lib, String name, FunctionDescriptor fd) {
            MemorySegment symbol = lib.find(name).orElseThrow(() ->
                    new UnsatisfiedLinkError(LIBRARY + " has no symbol " + name + "; libnftables 1.0 or newer is needed"));
            return linker.downcallHandle(symbol, fd);
        }
    }
}
