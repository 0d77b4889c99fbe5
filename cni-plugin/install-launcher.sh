#!/bin/sh
# Writes DIR/shunt-cni (the CNI plugin executable) and trains its AppCDS archive DIR/shunt-cni.jsa,
# from this module's packaged jar and target/lib (mvn -pl api,cni-plugin -am install first).
# usage: cni-plugin/install-launcher.sh DIR [--java PATH] [--no-train]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
java=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java
jar=$(ls "$here"/target/shunt-cni-plugin-*.jar 2>/dev/null | grep -v -e '-sources' -e '-tests' | head -n 1 || true)
if [ -z "$jar" ] || [ ! -d "$here/target/lib" ]; then
    echo "install-launcher: no packaged plugin under $here/target: run mvn -pl api,cni-plugin -am install first" >&2
    exit 1
fi
exec "$java" -cp "$jar:$here/target/lib/*" io.shunt.cni.InstallLauncher --java "$java" "$@"
