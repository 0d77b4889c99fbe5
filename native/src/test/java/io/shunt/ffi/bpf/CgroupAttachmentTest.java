package io.shunt.ffi.bpf;

import io.shunt.ffi.libc.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.shunt.ffi.bpf.BpfObjectTest.CONNECT4_PASS;
import static io.shunt.ffi.bpf.BpfObjectTest.COUNTERS;
import static io.shunt.ffi.bpf.BpfObjectTest.COUNTER_CONNECT4;
import static io.shunt.ffi.bpf.BpfObjectTest.PROBE;
import static io.shunt.ffi.bpf.BpfObjectTest.TC_PASS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * cgroup/connect4 through a BPF link on a cgroup v2 group the test creates: the program sees the
 * connects of a process in the group, a pinned link keeps it attached after its handle closes, a
 * new handle adopts it from the pin, and detach + unpin leave nothing (checked with bpftool).
 */
class CgroupAttachmentTest {
    /** bpftool 7.1 prints the attach type as "connect4" or, with libbpf's names, "cgroup_inet4_connect". */
    private static final Pattern ATTACHED = Pattern.compile("^(\\d+)\\s+(?:connect4|cgroup_inet4_connect)\\s",
            Pattern.MULTILINE);

    private TestCgroup cgroup;
    private BpfObject object;
    private BpfProgram program;

    @BeforeEach
    void setUp() throws Exception {
        cgroup = new TestCgroup("bpf-cg");
        object = BpfObject.open(PROBE);
        object.load();
        program = object.program(CONNECT4_PASS);
    }

    @AfterEach
    void tearDown() throws Exception {
        int id = program == null ? -1 : program.id();
        try {
            assertEquals(Set.of(), attached(cgroup.dir), "a program is still attached to " + cgroup.dir);
            if (object != null) {
                object.close();
            }
        } finally {
            cgroup.close();
        }
        if (id > 0) {
            assertTrue(Bpftool.programGone(id), "program " + id + " outlived its object");
        }
    }

    @Test
    void attachCountPinAdoptDetachUnpin() throws Exception {
        BpfMap counters = object.map(COUNTERS);
        long cgroupInode = (Long) Files.getAttribute(cgroup.dir, "unix:ino");
        try (TestBpffs bpffs = new TestBpffs()) {
            Path pin = Bpffs.techniqueFolder(bpffs.root, "probe").resolve("connect4");
            try (CgroupAttachment attachment = CgroupAttachment.attach(cgroup.dir, program)) {
                assertEquals(program.id(), attachment.programId());
                assertEquals(cgroupInode, attachment.cgroupId(), "the link's cgroup id is the group's inode");
                assertEquals(Set.of(program.id()), attached(cgroup.dir));

                long before = counters.lookupLong(COUNTER_CONNECT4).orElseThrow();
                connectFromInside(cgroup.dir);
                long after = counters.lookupLong(COUNTER_CONNECT4).orElseThrow();
                assertTrue(after > before, "connect4 saw no connect from inside the group: " + before + " -> " + after);

                attachment.pin(pin);
                assertEquals(Optional.of(pin), attachment.pinPath());
                assertTrue(Files.exists(pin));
            }
            assertEquals(Set.of(program.id()), attached(cgroup.dir), "the pin keeps the program attached");

            try (CgroupAttachment adopted = CgroupAttachment.adopt(pin)) {
                assertEquals(program.id(), adopted.programId());
                assertEquals(cgroupInode, adopted.cgroupId());
                assertEquals(Optional.of(pin), adopted.pinPath());

                adopted.detach();
                assertEquals(Set.of(), attached(cgroup.dir), "detach acts at once, pinned or not");
                long before = counters.lookupLong(COUNTER_CONNECT4).orElseThrow();
                connectFromInside(cgroup.dir);
                assertEquals(before, counters.lookupLong(COUNTER_CONNECT4).orElseThrow(), "a detached program counted");

                adopted.unpin();
                assertFalse(Files.exists(pin));
                adopted.unpin();
            }
        }
    }

    @Test
    void withoutAPinClosingTheHandleDetaches() throws Exception {
        CgroupAttachment attachment = CgroupAttachment.attach(cgroup.dir, program);
        assertEquals(Set.of(program.id()), attached(cgroup.dir));
        attachment.close();
        attachment.close();
        assertEquals(Set.of(), attached(cgroup.dir));
        assertThrows(IllegalStateException.class, attachment::detach);
    }

    @Test
    void refusesTheHierarchyRootAndFoldersOutsideCgroup2() throws Exception {
        Path root = TestCgroup.cgroup2Mount();
        IllegalArgumentException rootRefused = assertThrows(IllegalArgumentException.class,
                () -> CgroupAttachment.attach(root, program));
        assertTrue(rootRefused.getMessage().contains("root of a cgroup v2 hierarchy"), rootRefused.getMessage());
        assertFalse(attached(root).contains(program.id()));

        IllegalArgumentException tmp = assertThrows(IllegalArgumentException.class,
                () -> CgroupAttachment.attach(Path.of("/tmp"), program));
        assertTrue(tmp.getMessage().contains("not in a cgroup v2 hierarchy"), tmp.getMessage());
    }

    @Test
    void theKernelRefusesATcProgramOnACgroup() throws Exception {
        BpfProgram tc = object.program(TC_PASS);
        BpfException e = assertThrows(BpfException.class, () -> CgroupAttachment.attach(cgroup.dir, tc));
        assertEquals(Errno.EINVAL, e.errno(), e.getMessage());
        assertTrue(e.getMessage().startsWith("bpf_program__attach_cgroup(program shunt_tc_pass"), e.getMessage());
    }

    @Test
    void adoptingAPinThatIsNoLinkFails() throws Exception {
        try (TestBpffs bpffs = new TestBpffs()) {
            Path pin = bpffs.root.resolve("counters");
            object.map(COUNTERS).pin(pin);
            BpfException e = assertThrows(BpfException.class, () -> CgroupAttachment.adopt(pin));
            assertEquals(Errno.EINVAL, e.errno());
            BpfException none = assertThrows(BpfException.class, () -> CgroupAttachment.adopt(bpffs.root.resolve("none")));
            assertEquals(Errno.ENOENT, none.errno(), none.getMessage());
        }
    }

    /** The ids of the connect4 programs {@code bpftool cgroup show} lists for {@code dir}. */
    private static Set<Integer> attached(Path dir) throws IOException, InterruptedException {
        Set<Integer> ids = new TreeSet<>();
        Matcher m = ATTACHED.matcher(Bpftool.cgroupShow(dir.toString()));
        while (m.find()) {
            ids.add(Integer.parseInt(m.group(1)));
        }
        return ids;
    }

    /**
     * A shell that moves itself into {@code group} and then connects to a listener on 127.0.0.1
     * (in this test's namespace, loopback only), so the connect comes from inside the group.
     */
    private static void connectFromInside(Path group) throws IOException, InterruptedException {
        try (ServerSocket server = new ServerSocket(0, 4, InetAddress.getLoopbackAddress())) {
            Process p = new ProcessBuilder("bash", "-c", "echo $$ > \"$0/cgroup.procs\" && exec 3<>/dev/tcp/127.0.0.1/$1",
                    group.toString(), Integer.toString(server.getLocalPort()))
                    .redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            String out = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IOException("the shell in " + group + " could not connect: " + out);
            }
        }
    }
}
