package io.shunt.agent.admin;

import io.shunt.api.admin.AdminReply.ErrorKind;

/** An admin command that cannot be done as asked; the message is the one line the operator sees. */
final class AdminException extends Exception {
    private final ErrorKind kind;

    AdminException(ErrorKind kind, String message) {
        super(message);
        this.kind = kind;
    }

    ErrorKind kind() {
        return kind;
    }
}
