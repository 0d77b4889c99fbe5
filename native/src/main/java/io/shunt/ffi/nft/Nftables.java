package io.shunt.ffi.nft;

import io.shunt.ffi.NativeLibrary;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
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
        Handles h = HANDLES.get();
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

    private static final NativeLibrary.Lazy<Handles> HANDLES = new NativeLibrary.Lazy<>(Handles::load);

    private record Handles(MethodHandle ctxNew, MethodHandle ctxFree, MethodHandle outputSetFlags,
                           MethodHandle bufferOutput, MethodHandle bufferError, MethodHandle outputBuffer,
                           MethodHandle errorBuffer, MethodHandle runCmd) {
        static Handles load() {
            NativeLibrary lib = NativeLibrary.open("libnftables.so.1",
                    "libnftables 1.0 or newer (the Debian/Ubuntu package libnftables1; scripts/setup installs it)");
            return new Handles(
                    lib.function("nft_ctx_new", FunctionDescriptor.of(ADDRESS, JAVA_INT)),
                    lib.function("nft_ctx_free", FunctionDescriptor.ofVoid(ADDRESS)),
                    lib.function("nft_ctx_output_set_flags", FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT)),
                    lib.function("nft_ctx_buffer_output", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                    lib.function("nft_ctx_buffer_error", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                    lib.function("nft_ctx_get_output_buffer", FunctionDescriptor.of(ADDRESS, ADDRESS)),
                    lib.function("nft_ctx_get_error_buffer", FunctionDescriptor.of(ADDRESS, ADDRESS)),
                    lib.function("nft_run_cmd_from_buffer", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS)));
        }
    }
}
