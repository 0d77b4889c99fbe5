package io.shunt.agent.metrics;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * The version this agent was built as. The build writes it into {@code build.properties} next to
 * this class; the agent also runs from {@code target/classes}, where no jar manifest exists.
 */
final class BuildInfo {
    static final String UNKNOWN = "unknown";
    private static final String VERSION = load();

    private BuildInfo() {
    }

    /** e.g. {@code 0.1.0-SNAPSHOT}; {@value #UNKNOWN} when the classes were not built by Maven. */
    static String version() {
        return VERSION;
    }

    private static String load() {
        try (InputStream in = BuildInfo.class.getResourceAsStream("build.properties")) {
            if (in == null) {
                return UNKNOWN;
            }
            Properties p = new Properties();
            p.load(in);
            String version = p.getProperty("version", "").strip();
            // An unfiltered copy (e.g. compiled by an IDE) still holds the placeholder.
            return version.isEmpty() || version.contains("${") ? UNKNOWN : version;
        } catch (IOException e) {
            throw new UncheckedIOException("reading build.properties of " + BuildInfo.class.getName() + " from the classpath", e);
        }
    }
}
