package io.shunt.api.admin;

import java.util.Map;

/**
 * One admin call.
 *
 * @param version {@link AdminWire#VERSION} of the client
 * @param command what to do, e.g. {@code pods}, {@code explain}, {@code exclude-add}
 * @param args    the command's arguments by name, as text
 */
public record AdminRequest(int version, String command, Map<String, String> args) {
    public AdminRequest {
        command = command == null ? "" : command;
        args = args == null ? Map.of() : Map.copyOf(args);
    }

    public static AdminRequest of(String command, Map<String, String> args) {
        return new AdminRequest(AdminWire.VERSION, command, args);
    }

    public String arg(String name) {
        return args.getOrDefault(name, "");
    }
}
