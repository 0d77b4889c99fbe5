#!/bin/sh
# assemble.sh OUT: lays out Shunt's install tree in OUT (the image's /opt/shunt, or a host's):
#
#   OUT/jre/            a jlinked Java runtime with only the modules below
#   OUT/lib/agent/      shunt-agent's jars     (logback: the agent logs to stderr)
#   OUT/lib/cli/        shuntctl's jars        (slf4j-nop: shuntctl prints only its own output)
#   OUT/lib/cni/        shunt-cni's jars       (the plugin; install-cni copies them to the host)
#   OUT/bin/            shunt-agent, shuntctl, install-cni, uninstall-node (sh scripts)
#   OUT/BUILD_ID        a digest of all of the above, names the plugin's directory on the host
#   OUT/README.md       deploy/README.md
#
# Three lib directories, not one: the agent and shuntctl carry different SLF4J providers, and two
# providers on one class path make SLF4J pick one and warn about it.
#
# Run from the repository root after:
#   mvn -B -ntp -pl node-agent,cli,cni-plugin -am package dependency:copy-dependencies \
#       -DincludeScope=runtime -DskipTests
# The Containerfile runs exactly this; it also works on a build machine for a systemd install.
set -eu

out=${1:?usage: deploy/container/assemble.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
jdk=${JAVA_HOME:?set JAVA_HOME to a JDK 25}

# The Java modules Shunt needs, from jdeps --print-module-deps over every jar of the three
# programs (checked again below, so a new dependency cannot silently need a missing module):
#   java.base        everything
#   java.desktop     Jackson (java.beans: @ConstructorProperties, @Transient), snakeyaml (shuntctl -o yaml);
#                    it also brings java.xml, which logback reads its configuration with
#   java.sql         Jackson's java.sql.Date/Timestamp support
#   java.naming      Netty's handler (javax.naming.ldap, in its TLS code)
#   java.net.http    fabric8's JDK HttpClient transport: the pod watcher's TLS connection to the API server
#   jdk.httpserver   the agent's /metrics, /healthz and /readyz endpoint (com.sun.net.httpserver)
#   jdk.jfr          Netty's JFR events
#   jdk.unsupported  sun.misc.Unsafe, which Netty and its queues use
# Jackson declares java.desktop and java.sql "requires static"; they stay anyway: the runtime
# image is not where to find out which optional code path a JSON document takes. TLS needs no
# extra module: since JDK 22 the EC provider (SunEC) is in java.base and jdk.crypto.ec is empty.
MODULES=java.base,java.desktop,java.naming,java.net.http,java.sql,jdk.httpserver,jdk.jfr,jdk.unsupported

jars() { # the jars of module $1: its own jar and its runtime dependencies
    ls "$root/$1"/target/shunt-*.jar | grep -v -e '-sources\.jar$' -e '-tests\.jar$' -e '-javadoc\.jar$'
    ls "$root/$1"/target/dependency/*.jar
}
for m in node-agent cli cni-plugin; do
    if ! ls "$root/$m"/target/dependency/*.jar >/dev/null 2>&1; then
        echo "assemble: $m/target/dependency is empty: run the mvn command at the top of $0 first" >&2
        exit 1
    fi
done

needed=$("$jdk/bin/jdeps" --multi-release 25 --ignore-missing-deps --print-module-deps \
    $(jars node-agent) $(jars cli) $(jars cni-plugin))
for module in $(echo "$needed" | tr ',' ' '); do
    case ",$MODULES," in
        *",$module,"*) ;;
        *) echo "assemble: jdeps says the jars need $module, which MODULES in $0 lacks (jdeps: $needed)" >&2
           exit 1 ;;
    esac
done

if [ -e "$out" ] && [ ! -f "$out/BUILD_ID" ] && [ -n "$(ls -A "$out")" ]; then
    echo "assemble: $out exists and is not an earlier Shunt tree (no BUILD_ID); not replacing it" >&2
    exit 1
fi
rm -rf "$out"
mkdir -p "$out/lib/agent" "$out/lib/cli" "$out/lib/cni" "$out/bin"
cp $(jars node-agent) "$out/lib/agent/"
cp $(jars cli) "$out/lib/cli/"
cp $(jars cni-plugin) "$out/lib/cni/"

# --generate-cds-archive: the runtime's base CDS archive. The plugin's dynamic AppCDS archive
#   (shunt-cni.jsa) is layered on it; without it, InstallLauncher's training run cannot dump one.
# No --compress: a compressed jimage costs start-up time, and the plugin starts once per pod.
# classes_nocoops.jsa (the base archive for heaps above 32 GB) is kept: the plugin's JVM sizes its
#   default heap from the host's memory.
"$jdk/bin/jlink" --add-modules "$MODULES" --strip-debug --no-man-pages --no-header-files \
    --generate-cds-archive --output "$out/jre"

cp "$here/shunt-agent" "$here/shuntctl" "$here/install-cni" "$here/uninstall-node" "$out/bin/"
chmod 755 "$out"/bin/*
cp "$root/deploy/README.md" "$out/README.md"   # the systemd unit's Documentation=

# Content digest of the tree: install-cni copies the runtime and the plugin's jars to the host
# under this name, so a new image never overwrites files that a running plugin may be reading.
(cd "$out" && find . -type f ! -name BUILD_ID ! -name README.md | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16) \
    > "$out/BUILD_ID"
echo "assemble: $out ($(du -sh "$out" | cut -f1), modules $MODULES, build $(cat "$out/BUILD_ID"))"
