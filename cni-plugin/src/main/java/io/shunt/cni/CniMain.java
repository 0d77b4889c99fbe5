package io.shunt.cni;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** The plugin executable's entry point: the runtime's environment, stdin and stdout, and the exit status. */
public final class CniMain {
    private CniMain() {
    }

    public static void main(String[] args) {
        // Runtimes start plugins without LANG: write UTF-8 whatever the locale says.
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
        int status = CniPlugin.run(System.getenv(), System.in, out, err);
        out.flush();
        err.flush();
        // halt, not exit: there are no shutdown hooks to run, and System.exit would first start
        // the platform logging (it logs Runtime.exit calls) for nothing, a few ms on every call.
        Runtime.getRuntime().halt(status);
    }
}
