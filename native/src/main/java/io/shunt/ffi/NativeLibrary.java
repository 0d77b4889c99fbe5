package io.shunt.ffi;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.function.Supplier;

/**
 * A shared library Shunt calls through FFM, with one place for the two ways loading fails: the
 * library is missing, or it lacks a symbol. Both errors name the library and what to install.
 */
public final class NativeLibrary {
    private static final Linker LINKER = Linker.nativeLinker();

    private final String soname;
    private final String requirement;
    private final SymbolLookup lookup;

    private NativeLibrary(String soname, String requirement, SymbolLookup lookup) {
        this.soname = soname;
        this.requirement = requirement;
        this.lookup = lookup;
    }

    /**
     * @param requirement what the host needs, e.g. "libnftables 1.0 or newer (Debian package libnftables1)"
     * @throws UnsatisfiedLinkError when the library cannot be loaded
     */
    public static NativeLibrary open(String soname, String requirement) {
        try {
            // The library stays loaded for the life of the process, like any shared library.
            return new NativeLibrary(soname, requirement, SymbolLookup.libraryLookup(soname, Arena.global()));
        } catch (IllegalArgumentException e) {
            throw new UnsatisfiedLinkError(soname + " could not be loaded: install " + requirement + ", then retry");
        }
    }

    /** A downcall handle for {@code symbol}; @throws UnsatisfiedLinkError when the library lacks it. */
    public MethodHandle function(String symbol, FunctionDescriptor descriptor, Linker.Option... options) {
        MemorySegment address = lookup.find(symbol).orElseThrow(() ->
                new UnsatisfiedLinkError(soname + " has no symbol " + symbol + "; " + requirement + " is needed"));
        return LINKER.downcallHandle(address, descriptor, options);
    }

    /**
     * Handles built on first use, so a host without a library fails only when it is actually
     * needed. A failed load is retried on the next use rather than remembered, so its error keeps
     * saying what is missing.
     */
    public static final class Lazy<T> {
        private final Supplier<T> load;
        private volatile T value;

        public Lazy(Supplier<T> load) {
            this.load = load;
        }

        public T get() {
            T v = value;
            if (v == null) {
                synchronized (this) {
                    if (value == null) {
                        value = load.get();
                    }
                    v = value;
                }
            }
            return v;
        }
    }
}
