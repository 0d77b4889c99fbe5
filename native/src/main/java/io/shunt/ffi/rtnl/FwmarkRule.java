package io.shunt.ffi.rtnl;

/**
 * An IPv4 policy-routing rule that sends packets carrying a firewall mark to a routing table: what
 * {@code ip rule add fwmark MARK/MASK lookup TABLE priority PRIORITY} creates. All four fields are
 * the kernel's unsigned 32-bit values carried in an {@code int}.
 *
 * @param mark     the fwmark the rule matches (after masking)
 * @param mask     the bits of the packet's mark compared; {@link #FULL_MASK} compares all of them
 * @param table    the routing table the rule looks up
 * @param priority the rule's position (ip calls it preference); lower runs first
 */
public record FwmarkRule(int mark, int mask, int table, int priority) {
    /** Compare every bit of the mark: what {@code ip rule add fwmark MARK} means without a mask. */
    public static final int FULL_MASK = 0xffffffff;

    /** A rule matching exactly {@code mark}, as {@link PolicyRoutes#addFwmarkRule} creates it. */
    public static FwmarkRule of(int mark, int table, int priority) {
        return new FwmarkRule(mark, FULL_MASK, table, priority);
    }

    /** As {@code ip rule} would describe it: {@code fwmark 0x5349 lookup 21321 priority 100}. */
    @Override
    public String toString() {
        return "fwmark 0x" + Integer.toHexString(mark) + (mask == FULL_MASK ? "" : "/0x" + Integer.toHexString(mask))
                + " lookup " + Integer.toUnsignedString(table) + " priority " + Integer.toUnsignedString(priority);
    }
}
