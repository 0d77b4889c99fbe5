package io.shunt.api;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.shunt.api.admin.AdminReply;
import io.shunt.api.admin.AdminRequest;
import io.shunt.api.admin.AdminWire;
import io.shunt.api.cni.CniReply;
import io.shunt.api.cni.CniRequest;
import io.shunt.api.cni.CniWire;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * Whatever a peer sends on one of the agent's sockets, each reader returns a message or throws an
 * {@link IOException} whose message says what is wrong; no other exception, never null. Every
 * direction is read from outside: requests by the agent, replies by the plugin and by shuntctl.
 * A request or CNI reply that was read writes back and reads again as the same message.
 * Seeds and past findings: {@code WireFuzzTestInputs/everyReaderReturnsAMessageOrSaysWhy/}.
 */
class WireFuzzTest {
    /** One reader of the wire, and its writer when a message must survive a round trip. */
    private interface Reader<T> {
        T read(InputStream in) throws IOException;
    }

    private interface Writer<T> {
        void write(OutputStream out, T message) throws IOException;
    }

    @FuzzTest(maxDuration = "8s")
    void everyReaderReturnsAMessageOrSaysWhy(byte[] bytes) {
        check(bytes, "CniRequest", in -> CniWire.read(in, CniRequest.class), CniWire::write);
        check(bytes, "CniReply", in -> CniWire.read(in, CniReply.class), CniWire::write);
        check(bytes, "AdminRequest", AdminWire::readRequest, AdminWire::writeRequest);
        // a reply's result is free-form JSON (a double may read as Infinity): read it, no round trip
        check(bytes, "AdminReply", AdminWire::readReply, null);
    }

    private static <T> void check(byte[] bytes, String type, Reader<T> reader, Writer<T> writer) {
        T message;
        try {
            message = reader.read(new ByteArrayInputStream(bytes));
        } catch (IOException refused) {
            assertNotNull(refused.getMessage(), () -> type + ": an IOException without a message: " + refused);
            assertFalse(refused.getMessage().isBlank(), () -> type + ": an IOException with a blank message");
            return;
        }
        assertNotNull(message, () -> type + ": the reader returned null instead of a message or an IOException");
        if (writer != null) {
            assertEquals(message, roundTrip(message, reader, writer), type + ": a message must write back unchanged");
        }
    }

    private static <T> T roundTrip(T message, Reader<T> reader, Writer<T> writer) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            writer.write(out, message);
            return reader.read(new ByteArrayInputStream(out.toByteArray()));
        } catch (IOException e) {
            throw new AssertionError("a message that was read could not be written and read again: " + message, e);
        }
    }
}
