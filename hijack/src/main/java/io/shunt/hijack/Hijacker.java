package io.shunt.hijack;

import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.policy.CapturePolicy;

import java.nio.file.Path;
import java.util.Optional;

/**
 * One interception technique: diverts a pod's TCP connections to the proxy's listeners according
 * to a {@link CapturePolicy}, and takes that back out again. The agent holds one instance per
 * technique and calls it for every pod; implementations keep no per-pod state, the kernel is the
 * record of what is installed.
 *
 * <p>Methods that take a {@link NetNs} enter it on the calling thread, so they must be called from
 * a platform thread that is in its home namespace (not inside another {@code NetNs.run}). Calls for
 * the same pod must not overlap; the agent serialises them per pod.
 *
 * <p>This would be a sealed interface with one permitted implementation per technique, but sealing
 * across packages requires a named module and Shunt does not use JPMS yet.
 */
public interface Hijacker {

    /** The technique this implements; its {@code id()} appears in config, CLI and metrics. */
    TechniqueId technique();

    /**
     * Renders what {@link #install} would apply for {@code policy}. Pure: no kernel access, the
     * same policy always gives the same plan.
     */
    RulePlan plan(CapturePolicy policy);

    /**
     * Installs capture for {@code policy} in the pod's network namespace, replacing whatever Shunt
     * had installed there before.
     *
     * <ul>
     *   <li>Atomic: either the new rules are fully in place, or the namespace is exactly as it was
     *       (including any earlier Shunt rules).</li>
     *   <li>Idempotent: installing twice leaves exactly one copy, identical to installing once.</li>
     * </ul>
     *
     * @throws HijackException naming the technique and the pod's netns path, with the kernel's or
     *                         nft's error text, when the rules could not be applied
     */
    void install(NetNs pod, CapturePolicy policy) throws HijackException;

    /**
     * {@link #install(NetNs, CapturePolicy)}, for a technique that needs the proxy's listening
     * sockets themselves and not only their ports. The agent always calls this form; a technique
     * that diverts by port ignores {@code listeners}. The plain form of such a technique works only
     * where an earlier install has handed it the sockets already.
     */
    default void install(NetNs pod, CapturePolicy policy, ListenerSockets listeners) throws HijackException {
        install(pod, policy);
    }

    /**
     * {@link #install(NetNs, CapturePolicy, ListenerSockets)}, for a technique that attaches to the
     * pod's cgroup v2 group ({@code sockmap}) as well. The agent always calls this form, with the
     * group when it knows one; techniques that work on the network namespace alone ignore it. A
     * cgroup technique refuses a fresh install without a group, so selection falls back.
     *
     * @param cgroup the pod's cgroup v2 folder, e.g. {@code /sys/fs/cgroup/kubepods.slice/...}
     */
    default void install(NetNs pod, CapturePolicy policy, ListenerSockets listeners, Optional<Path> cgroup)
            throws HijackException {
        install(pod, policy, listeners);
    }

    /**
     * Removes everything this technique installed in the pod's namespace, then checks that nothing
     * remains. Succeeds when nothing was installed.
     *
     * @throws HijackException when removal fails or something of Shunt's is still there afterwards
     */
    void remove(NetNs pod) throws HijackException;

    /**
     * What this technique has installed in the pod's namespace now, rendered as text (for nftables,
     * as {@code nft list} prints it), or empty when nothing is installed.
     */
    Optional<String> installed(NetNs pod) throws HijackException;

    /**
     * Another technique's {@link #install} has just replaced the shared nft table in this pod (a
     * live move to that technique): removes whatever else this technique had installed there,
     * leaving the table alone. Never leaves a moment without interception rules, which removing
     * first and installing after would.
     *
     * @throws HijackException when something of this technique's could not be removed
     */
    void releaseAfterReplaced(NetNs pod) throws HijackException;
}
