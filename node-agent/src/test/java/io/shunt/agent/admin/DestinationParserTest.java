package io.shunt.agent.admin;

import io.shunt.api.admin.AdminReply.ErrorKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class DestinationParserTest {
    @Test
    void readsLiteralAddresses() throws AdminException {
        assertEquals(5432, DestinationParser.parse("10.0.3.7:5432").getPort());
        assertEquals("10.0.3.7", DestinationParser.parse("10.0.3.7:5432").getAddress().getHostAddress());
        assertEquals(443, DestinationParser.parse("[fd00::7]:443").getPort());
    }

    @ParameterizedTest
    @ValueSource(strings = {"db.example:5432", "10.0.3.7", "10.0.3.7:", "10.0.3.7:0", "10.0.3.7:65536", "fd00::7:443",
            "10.0.3.7:http", ""})
    void refusesAnythingElseAsABadRequest(String text) {
        AdminException e = assertThrows(AdminException.class, () -> DestinationParser.parse(text));
        assertEquals(ErrorKind.BAD_REQUEST, e.kind());
    }
}
