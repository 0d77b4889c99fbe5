package io.shunt.hijack;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TechniqueIdTest {

    @Test
    void idIsTheConfigWordAndRoundTrips() {
        assertEquals("redirect", TechniqueId.REDIRECT.id());
        assertEquals(TechniqueId.REDIRECT, TechniqueId.fromId("redirect"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TechniqueId.fromId("ebpf"));
        assertEquals("unknown technique 'ebpf'; known techniques: redirect, tproxy, tc, sockmap", e.getMessage());
    }

    @Test
    void hijackExceptionNamesTechniqueOperationPathAndCause() {
        HijackException e = new HijackException(TechniqueId.REDIRECT, "install", Path.of("/var/run/netns/web-1"),
                "nft rejected the script:\nError: boom", null);
        assertEquals("redirect install in netns /var/run/netns/web-1 failed: nft rejected the script:\nError: boom",
                e.getMessage());
        assertEquals(Path.of("/var/run/netns/web-1"), e.netns());
        assertTrue(e instanceof java.io.IOException);
    }
}
