package io.shunt.hijack;

import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.policy.Cidr;
import io.shunt.hijack.policy.PortRange;
import io.shunt.hijack.policy.SocketOwner;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * One table of policies for every technique: it drives each technique's golden tests, its nft
 * syntax checks and its kernel tests, so all techniques are held to the same exclusion cases.
 * Each technique keeps its golden scripts under {@code /golden/<technique id>/}.
 */
public enum PolicyCase {
    DEFAULTS("defaults.nft", CapturePolicy.defaults()),
    INCLUDE_EXCLUDE("include-exclude.nft", CapturePolicy.defaults()
            .withOutboundPort(15101)
            .withInboundPort(15106)
            .withBypassMark(0xcafe)
            .withIncludeOutboundCidrs(cidrs("10.0.0.0/8", "192.168.0.0/16"))
            .withExcludeOutboundCidrs(cidrs("10.96.0.1", "10.1.0.0/16"))
            .withExcludeOutboundPorts(ports("22", "8000-8100"))
            .withExcludeInboundPorts(ports("9090", "15020-15021"))
            .withExcludeOutboundOwners(List.of(SocketOwner.uid(1337), SocketOwner.gid(4242), SocketOwner.uid(0)))),
    OUTBOUND_ONLY("outbound-only.nft", CapturePolicy.defaults()
            .withExcludeOutboundCidrs(cidrs("169.254.169.254"))
            .withCaptureInbound(false));

    public final String golden;
    public final CapturePolicy policy;

    PolicyCase(String golden, CapturePolicy policy) {
        this.golden = golden;
        this.policy = policy;
    }

    /** The script {@code technique} must render for this case. */
    public String goldenScript(TechniqueId technique) throws IOException {
        String resource = "/golden/" + technique.id() + "/" + golden;
        try (InputStream in = PolicyCase.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IOException("golden file " + resource + " is missing from test resources");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    static List<Cidr> cidrs(String... text) {
        return Arrays.stream(text).map(Cidr::parse).toList();
    }

    static List<PortRange> ports(String... text) {
        return Arrays.stream(text).map(PortRange::parse).toList();
    }
}
