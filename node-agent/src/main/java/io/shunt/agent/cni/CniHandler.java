package io.shunt.agent.cni;

import io.shunt.api.cni.CniReply;
import io.shunt.api.cni.CniRequest;

/**
 * What the agent does for each call of the shunt-cni plugin. {@link CniEndpoint} owns the socket,
 * the framing, the timeouts and the concurrency limit; a handler only decides.
 *
 * <h2>Threads</h2>
 * Every method runs on one of the endpoint's platform threads (never a virtual thread), so a
 * handler may {@code setns()} into a pod's network namespace for the duration of the call; it must
 * return the thread to the namespace it found before returning or throwing. Up to
 * {@code maxConcurrent} calls run at the same time, possibly for the same container (a runtime
 * that timed out may repeat an ADD while the first one still runs): a handler serialises what
 * must be serialised.
 *
 * <h2>What the endpoint guarantees before calling</h2>
 * <ul>
 *   <li>{@link #ready()} returned true. While it returns false the endpoint answers
 *       {@link CniReply#TRY_AGAIN_LATER} to ADD, DEL, CHECK and GC and
 *       {@link CniReply#PLUGIN_NOT_AVAILABLE} to STATUS, without calling anything else.</li>
 *   <li>For ADD, DEL and CHECK the container id is not empty and is a valid CNI container id
 *       (a letter or digit, then letters, digits, {@code _ . -}).</li>
 *   <li>For ADD and CHECK the netns path is absolute. DEL may come without one: the runtime may
 *       already have removed the namespace.</li>
 * </ul>
 *
 * <h2>Errors</h2>
 * A method answers a failure it understands with {@link CniReply#failure}, choosing the CNI code
 * (e.g. {@link CniReply#INTERCEPTION_FAILED}) and naming the pod and the failed step in {@code msg}.
 * An exception thrown by a handler is not fatal: the endpoint answers
 * {@link CniReply#IO_FAILURE} with the exception's message and keeps serving. A {@code null}
 * reply is answered the same way.
 */
public interface CniHandler {

    /**
     * False from the agent's start until it has reconciled the pods it persisted with what the
     * kernel and the runtime have now; true afterwards. Called once per request, so it must be
     * cheap and must not block (a volatile read).
     */
    boolean ready();

    /**
     * CNI ADD: intercept the container's pod. Synchronous: returns success only once the pod's
     * traffic is diverted to listeners that are open, so the pod's first packet is already
     * intercepted; the runtime starts the application right after. Returns the technique
     * installed in {@link CniReply#technique()}.
     *
     * <p>Idempotent: an ADD for a container that is already intercepted answers success with its
     * current technique and installs nothing twice. On failure nothing stays installed for this
     * container (the runtime will not send a DEL for a failed ADD before retrying it).
     */
    CniReply add(CniRequest request);

    /**
     * CNI DEL: stop intercepting the container's pod and forget it. Succeeds for a container the
     * agent does not know (never added, already deleted, lost): the runtime repeats DEL until it
     * succeeds, so an unknown container must not block the sandbox's removal forever. The netns
     * may be gone or empty; removing rules from a namespace that no longer exists is success.
     */
    CniReply delete(CniRequest request);

    /**
     * CNI CHECK: is the container's interception still what the agent installed? Success when it
     * is; {@link CniReply#CONTAINER_UNKNOWN} for a container the agent does not know;
     * {@link CniReply#CHECK_FAILED} when the rules are missing or were changed. Changes nothing.
     */
    CniReply check(CniRequest request);

    /**
     * CNI STATUS (1.1): can the agent serve ADDs now? Success, or
     * {@link CniReply#PLUGIN_NOT_AVAILABLE} with the reason. Only called once {@link #ready()} is
     * true, so this answers about everything else (e.g. no technique works on this kernel).
     */
    CniReply status();

    /**
     * CNI GC (1.1): release every pod of this network whose container id is not in
     * {@link CniRequest#validContainerIds()}. Succeeds when there is nothing to release; a pod that
     * cannot be released now is logged and left for the next GC, it does not fail the call.
     */
    CniReply gc(CniRequest request);
}
