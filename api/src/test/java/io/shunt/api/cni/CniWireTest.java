package io.shunt.api.cni;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CniWireTest {

    @Test
    void aRequestAndAReplyRoundTrip() throws IOException {
        CniRequest request = CniRequest.forContainer(CniRequest.Command.ADD, "c1", "/var/run/netns/x", "eth0", "default",
                "web-1", "uid-1", List.of("10.22.0.5/16"));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CniWire.write(out, request);
        assertTrue(out.toString().endsWith("}\n"));
        assertEquals(request, CniWire.read(new ByteArrayInputStream(out.toByteArray()), CniRequest.class));

        out.reset();
        CniWire.write(out, CniReply.failure(CniReply.TRY_AGAIN_LATER, "agent not ready", "reconciling"));
        CniReply reply = CniWire.read(new ByteArrayInputStream(out.toByteArray()), CniReply.class);
        assertEquals(11, reply.code());
        assertEquals("agent not ready", reply.msg());
    }

    @Test
    void anEmptyOrOversizedMessageIsRefused() {
        assertThrows(IOException.class, () -> CniWire.read(new ByteArrayInputStream(new byte[0]), CniRequest.class));
        byte[] huge = new byte[CniWire.MAX_MESSAGE_BYTES + 10];
        java.util.Arrays.fill(huge, (byte) 'a');
        IOException e = assertThrows(IOException.class,
                () -> CniWire.read(new ByteArrayInputStream(huge), CniRequest.class));
        assertTrue(e.getMessage().contains("over the limit"), e.getMessage());
    }

    @Test
    void missingFieldsBecomeEmptyAndUnknownOnesAreIgnored() throws IOException {
        String json = "{\"command\":\"DEL\",\"containerId\":\"c2\",\"future\":true}\n";
        CniRequest r = CniWire.read(new ByteArrayInputStream(json.getBytes()), CniRequest.class);
        assertEquals("", r.netns());
        assertEquals(List.of(), r.ips());
    }
}
