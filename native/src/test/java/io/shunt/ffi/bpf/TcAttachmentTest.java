package io.shunt.ffi.bpf;

import io.shunt.ffi.ScratchNetNs;
import io.shunt.ffi.libc.Errno;
import io.shunt.ffi.rtnl.TcFilters;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static io.shunt.ffi.bpf.BpfObjectTest.COUNTERS;
import static io.shunt.ffi.bpf.BpfObjectTest.COUNTER_TC;
import static io.shunt.ffi.bpf.BpfObjectTest.PROBE;
import static io.shunt.ffi.bpf.BpfObjectTest.TC_PASS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * tc attachment on the loopback interface of a scratch network namespace: the filter sees the
 * namespace's traffic, detaching leaves the interface as it was found (checked with bpftool and
 * tc inside the namespace), and the program is gone once its object closes.
 */
class TcAttachmentTest {
    private static final int LO = 1;

    private ScratchNetNs scratch;
    private BpfObject object;
    private BpfProgram program;

    @BeforeEach
    void setUp() throws Exception {
        scratch = new ScratchNetNs("bpf-tc");
        ScratchNetNs.ip("-n", scratch.name, "link", "set", "lo", "up");
        object = BpfObject.open(PROBE);
        object.load();
        program = object.program(TC_PASS);
    }

    @AfterEach
    void tearDown() throws Exception {
        int id = program == null ? -1 : program.id();
        try {
            if (object != null) {
                object.close();
            }
        } finally {
            scratch.close();
        }
        if (id > 0) {
            assertTrue(Bpftool.programGone(id), "program " + id + " outlived its object and namespace");
        }
    }

    @Test
    void countsTheNamespacesTrafficAndDetachesWithoutResidue() throws Exception {
        TcAttachment attachment = scratch.netns.run(() -> TcAttachment.attach(LO, true, program, 1, 1));
        try {
            assertTrue(attachment.createdQdisc(), "a fresh namespace has no clsact qdisc");
            assertEquals(program.id(), attachment.programId());
            String net = netShow();
            assertTrue(net.contains("lo(1) clsact/ingress") && net.contains("id " + program.id()), net);

            BpfMap counters = object.map(COUNTERS);
            long before = counters.lookupLong(COUNTER_TC).orElseThrow();
            scratch.netns.run(TcAttachmentTest::exchangeOverLoopback);
            long after = counters.lookupLong(COUNTER_TC).orElseThrow();
            assertTrue(after > before, "the filter counted no packet of a TCP exchange over lo: " + before + " -> " + after);
        } finally {
            scratch.netns.run(() -> {
                attachment.detach();
                return null;
            });
        }
        String net = netShow();
        assertFalse(net.contains("clsact"), "bpftool net show after detach:\n" + net);
        assertFalse(inNetns("tc", "qdisc", "show", "dev", "lo").contains("clsact"), "the qdisc this attachment created stays");
        scratch.netns.run(() -> {
            attachment.detach();
            return null;
        });
    }

    @Test
    void aQdiscThatWasThereStaysAndSoDoesAnotherFilter() throws Exception {
        inNetns("tc", "qdisc", "add", "dev", "lo", "clsact");
        scratch.netns.run(() -> {
            try (TcAttachment egress = TcAttachment.attach(LO, false, program, 7, 7);
                 TcAttachment ingress = TcAttachment.attach(LO, true, program, 1, 1)) {
                assertFalse(ingress.createdQdisc());
                assertFalse(egress.createdQdisc());
                assertEquals(List.of(1, 7), List.of(filters(true).getFirst().priority(), filters(false).getFirst().priority()));
            }
            return null;
        });
        assertTrue(filtersAfter(true).isEmpty() && filtersAfter(false).isEmpty(), netShow());
        assertTrue(inNetns("tc", "qdisc", "show", "dev", "lo").contains("clsact"), "a qdisc found existing is kept");
    }

    @Test
    void theQdiscGoesWithTheLastFilterWhicheverGoesLast() throws Exception {
        scratch.netns.run(() -> {
            TcAttachment first = TcAttachment.attach(LO, true, program, 1, 1);
            TcAttachment second = TcAttachment.attach(LO, false, program, 2, 2);
            assertTrue(first.createdQdisc());
            assertFalse(second.createdQdisc());
            first.detach();
            assertTrue(inNetns("tc", "qdisc", "show", "dev", "lo").contains("clsact"), "egress still uses the qdisc");
            second.detach();
            return null;
        });
        assertFalse(inNetns("tc", "qdisc", "show", "dev", "lo").contains("clsact"), "the process created it, so it goes");
        assertFalse(netShow().contains("clsact/"), netShow());
    }

    @Test
    void findAdoptsAFilterAndTheSameFilterCannotBeAttachedTwice() throws Exception {
        scratch.netns.run(() -> {
            TcAttachment attached = TcAttachment.attach(LO, true, program, 3, 0x33);
            BpfException twice = assertThrows(BpfException.class, () -> TcAttachment.attach(LO, true, program, 3, 0x33));
            assertEquals(Errno.EEXIST, twice.errno(), twice.getMessage());
            assertTrue(twice.getMessage().contains("ifindex 1 ingress prio 3 handle 0x33"), twice.getMessage());

            Optional<TcAttachment> found = TcAttachment.find(LO, true, 3, 0x33);
            assertEquals(program.id(), found.orElseThrow().programId());
            assertFalse(found.get().createdQdisc());
            assertEquals(Optional.empty(), TcAttachment.find(LO, true, 3, 0x34));
            assertEquals(Optional.empty(), TcAttachment.find(LO, false, 3, 0x33));

            found.get().detach();
            assertEquals(Optional.empty(), TcAttachment.find(LO, true, 3, 0x33));
            attached.detach(); // already gone: counts as detached, and removes the qdisc it created
            return null;
        });
        assertFalse(inNetns("tc", "qdisc", "show", "dev", "lo").contains("clsact"));
    }

    @Test
    void detachRefusesAnotherNamespaceAndAttachNamesAMissingInterface() throws Exception {
        TcAttachment attachment = scratch.netns.run(() -> TcAttachment.attach(LO, true, program, 1, 1));
        IllegalStateException elsewhere = assertThrows(IllegalStateException.class, attachment::detach);
        assertTrue(elsewhere.getMessage().contains("call detach inside NetNs.run"), elsewhere.getMessage());
        scratch.netns.run(() -> {
            attachment.detach();
            BpfException missing = assertThrows(BpfException.class, () -> TcAttachment.attach(999, true, program, 1, 1));
            assertEquals(Errno.ENODEV, missing.errno(), missing.getMessage());
            assertTrue(missing.getMessage().contains("no interface has index 999"), missing.getMessage());
            return null;
        });
        assertFalse(netShow().contains("clsact"), netShow());
    }

    /** A TCP connection over 127.0.0.1 with a few bytes each way, inside the calling thread's namespace. */
    private static Void exchangeOverLoopback() throws IOException {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Socket client = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort());
             Socket accepted = server.accept()) {
            client.setSoTimeout(2000);
            accepted.setSoTimeout(2000);
            OutputStream out = client.getOutputStream();
            out.write("ping".getBytes());
            out.flush();
            InputStream in = accepted.getInputStream();
            assertEquals('p', in.read());
            accepted.getOutputStream().write('!');
            assertEquals('!', client.getInputStream().read());
        }
        return null;
    }

    private List<TcFilters.TcFilter> filters(boolean ingress) throws IOException {
        return TcFilters.list(LO, ingress ? TcFilters.CLSACT_INGRESS : TcFilters.CLSACT_EGRESS);
    }

    private List<TcFilters.TcFilter> filtersAfter(boolean ingress) throws IOException {
        return scratch.netns.run(() -> filters(ingress));
    }

    private String netShow() throws IOException, InterruptedException {
        Bpftool.Result r = Bpftool.inNetns(scratch.path().toString(), "net", "show");
        assertEquals(0, r.exit(), r.output());
        return r.output();
    }

    private String inNetns(String... command) throws IOException, InterruptedException {
        List<String> full = new java.util.ArrayList<>(List.of("nsenter", "--net=" + scratch.path()));
        full.addAll(List.of(command));
        Process p = new ProcessBuilder(full).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", full) + " failed: " + out);
        }
        return out;
    }
}
