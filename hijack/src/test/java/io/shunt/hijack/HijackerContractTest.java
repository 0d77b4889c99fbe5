package io.shunt.hijack;

import io.shunt.ffi.ScratchNetNs;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.redirect.RedirectHijacker;
import io.shunt.hijack.tc.TcHijacker;
import io.shunt.hijack.tproxy.TproxyHijacker;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the {@link Hijacker} contract promises, checked once for every technique. */
class HijackerContractTest {

    static Hijacker hijacker(TechniqueId technique) {
        return switch (technique) {
            case REDIRECT -> new RedirectHijacker();
            case TPROXY -> new TproxyHijacker();
            case TC -> new TcHijacker();
            case SOCKMAP -> new io.shunt.hijack.sockmap.SockmapHijacker();
        };
    }

    @ParameterizedTest
    @EnumSource(TechniqueId.class)
    void everyOperationOnAClosedHandleFailsNamingTheTechniqueAndThePodPath(TechniqueId technique) throws Exception {
        Hijacker hijacker = hijacker(technique);
        assertEquals(technique, hijacker.technique());
        try (ScratchNetNs pod = new ScratchNetNs("closed-" + technique.id())) {
            pod.netns.close();
            HijackException install = assertThrows(HijackException.class,
                    () -> hijacker.install(pod.netns, CapturePolicy.defaults()));
            assertEquals(technique, install.technique());
            assertEquals(pod.path(), install.netns());
            assertTrue(install.getMessage().contains(pod.path().toString()), install.getMessage());
            assertTrue(install.getMessage().contains("closed"), install.getMessage());
            HijackException remove = assertThrows(HijackException.class, () -> hijacker.remove(pod.netns));
            assertTrue(remove.getMessage().contains(pod.path().toString()), remove.getMessage());
            HijackException read = assertThrows(HijackException.class, () -> hijacker.installed(pod.netns));
            assertTrue(read.getMessage().contains(pod.path().toString()), read.getMessage());
        }
    }
}
