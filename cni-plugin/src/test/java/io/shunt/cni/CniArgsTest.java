package io.shunt.cni;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CniArgsTest {
    @Test
    void readsKubernetesArgs() throws CniError {
        assertEquals(new CniArgs("default", "web-1", "1b4e28ba"), CniArgs.parse(
                "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-1;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=1b4e28ba"));
    }

    @Test
    void emptyOrAbsentIsNone() throws CniError {
        assertEquals(CniArgs.NONE, CniArgs.parse(null));
        assertEquals(CniArgs.NONE, CniArgs.parse(""));
        assertEquals(CniArgs.NONE, CniArgs.parse(";;"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"IgnoreUnknown=1", "IgnoreUnknown=true", "IgnoreUnknown=True"})
    void ignoreUnknownAllowsForeignKeysAnywhere(String flag) throws CniError {
        assertEquals(new CniArgs("", "web", ""), CniArgs.parse("MAC=de:ad:be:ef:00:01;K8S_POD_NAME=web;" + flag));
    }

    @Test
    void unknownKeyWithoutIgnoreUnknownIs4() {
        CniError e = assertThrows(CniError.class, () -> CniArgs.parse("K8S_POD_NAME=web;MAC=x;IgnoreUnknown=0"));
        assertEquals(4, e.code());
        assertTrue(e.msg().contains("\"MAC\""), e.msg());
    }

    @ParameterizedTest
    @ValueSource(strings = {"K8S_POD_NAME", "=web", "IgnoreUnknown=1;novalue"})
    void malformedPairIs4(String raw) {
        CniError e = assertThrows(CniError.class, () -> CniArgs.parse(raw));
        assertEquals(4, e.code());
        assertTrue(e.msg().startsWith("CNI_ARGS has a malformed pair"), e.msg());
    }

    @Test
    void valueMayContainEquals() throws CniError {
        assertEquals("a=b", CniArgs.parse("K8S_POD_NAME=a=b").podName());
    }
}
