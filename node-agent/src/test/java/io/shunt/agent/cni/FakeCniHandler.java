package io.shunt.agent.cni;

import io.shunt.api.cni.CniReply;
import io.shunt.api.cni.CniRequest;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.function.Function;

/** A handler that records every call and answers what the test tells it to. */
final class FakeCniHandler implements CniHandler {
    /** One call; {@code request} is null for STATUS. */
    record Call(String method, CniRequest request) {
    }

    final List<Call> calls = new CopyOnWriteArrayList<>();
    /** Released once each time a call enters add/delete/check/status/gc. */
    final Semaphore entered = new Semaphore(0);
    volatile boolean ready = true;
    /** The answer to every call but ready(); STATUS passes null. May block or throw. */
    volatile Function<CniRequest, CniReply> answer = request -> CniReply.success("redirect");

    @Override
    public boolean ready() {
        return ready;
    }

    @Override
    public CniReply add(CniRequest request) {
        return call("add", request);
    }

    @Override
    public CniReply delete(CniRequest request) {
        return call("delete", request);
    }

    @Override
    public CniReply check(CniRequest request) {
        return call("check", request);
    }

    @Override
    public CniReply status() {
        return call("status", null);
    }

    @Override
    public CniReply gc(CniRequest request) {
        return call("gc", request);
    }

    private CniReply call(String method, CniRequest request) {
        calls.add(new Call(method, request));
        entered.release();
        return answer.apply(request);
    }
}
