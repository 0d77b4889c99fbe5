package io.shunt.ffi.nft;

import java.io.IOException;

/** nft refused a script; the message carries nft's own error text, which points at the bad line. */
public final class NftException extends IOException {
    private final String script;
    private final String nftErrors;

    public NftException(String what, String script, String nftErrors) {
        super(what + (nftErrors.isBlank() ? "" : ":\n" + nftErrors.strip()));
        this.script = script;
        this.nftErrors = nftErrors;
    }

    public String script() {
        return script;
    }

    public String nftErrors() {
        return nftErrors;
    }
}
