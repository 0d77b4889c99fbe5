package io.shunt.hijack;

import io.shunt.hijack.redirect.RedirectHijacker;
import io.shunt.hijack.sockmap.SockmapHijacker;
import io.shunt.hijack.tc.TcHijacker;
import io.shunt.hijack.tproxy.TproxyHijacker;

/** The hijacker of each technique: the one place that maps a technique id to its kernel side. */
public final class Hijackers {
    private Hijackers() {
    }

    public static Hijacker of(TechniqueId technique) {
        return switch (technique) {
            case REDIRECT -> new RedirectHijacker();
            case TPROXY -> new TproxyHijacker();
            case TC -> new TcHijacker();
            case SOCKMAP -> new SockmapHijacker();
        };
    }
}
