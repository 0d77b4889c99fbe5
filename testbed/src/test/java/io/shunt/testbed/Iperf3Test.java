package io.shunt.testbed;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Reading iperf3 -J output, and the client's command line. */
class Iperf3Test {

    @Test
    void theReceiversRateAndBytesAndTheSendersRetransmitsAreRead() throws IOException {
        String json = resource("iperf3-client.json");
        assertNull(Iperf3.error(json));
        Iperf3.Result r = Iperf3.parse(json);
        assertEquals(25.602466542213815e9, r.bitsPerSecond(), 1);
        assertEquals(3_200_663_552L, r.bytes());
        assertEquals(0, r.retransmits());
        assertEquals(25.60, r.gbitPerSecond(), 0.01);
    }

    @Test
    void anErrorIsReportedAndHasNoFigures() throws IOException {
        String json = resource("iperf3-error.json");
        assertEquals("control socket has closed unexpectedly", Iperf3.error(json));
        assertThrows(IllegalArgumentException.class, () -> Iperf3.parse(json));
        assertThrows(IllegalArgumentException.class, () -> Iperf3.parse("iperf3: error - unable to connect"));
    }

    @Test
    void theClientRunsOneStreamForTheDurationAndReversesOnRequest() {
        InetSocketAddress server = new InetSocketAddress("10.201.0.10", 5201);
        assertEquals(List.of("iperf3", "-c", "10.201.0.10", "-p", "5201", "-t", "5", "-P", "1", "-J",
                "--connect-timeout", "5000"), Iperf3.clientCommand(server, Duration.ofSeconds(5), false));
        assertEquals("-R", Iperf3.clientCommand(server, Duration.ofSeconds(2), true).getLast());
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = Iperf3Test.class.getResourceAsStream(name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
