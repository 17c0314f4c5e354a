#!/usr/bin/env bash
# Assembles the root filesystem of the Portcullis image, with no container engine and no base
# image to pull: a jlink'ed Java runtime of the build's own JDK (the modules the gateway uses),
# the C libraries that runtime links against (distroless-style, copied from the build machine),
# a numeric non-root user, the shaded jar, and a class-data sharing archive trained inside the
# assembled filesystem (chroot), so the archive matches the image's exact runtime, paths and jar.
#
#   deploy/image/rootfs.sh JAR OUT_DIR
#
# The jib-maven-plugin (gateway-app, `package`) then lays OUT_DIR onto an empty (scratch) base and
# writes an OCI image tarball. Training the archive needs root (chroot); without it the image is
# built without the archive and a warning says so (the JVM starts without one, just slower).
set -euo pipefail

jar=$(readlink -f "$1")
out=$2
java_home=${JLINK_JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}
# The modules `jdeps --print-module-deps` finds in the shaded jar, plus the providers it cannot see
# (jdk.crypto.ec: the JDK's EC signatures, the fallback when ACCP's native library cannot load).
modules=java.base,java.compiler,java.desktop,java.instrument,java.naming,java.net.http,java.security.jgss
modules=$modules,java.sql,jdk.jfr,jdk.management,jdk.unsupported,jdk.crypto.ec
# Every file in the image gets this time (jib's filesModificationTime must say the same): the
# archive records the jar's modification time and refuses a jar whose time differs.
stamp=${IMAGE_FILES_TIME:-1970-01-01T00:00:01Z}

rm -rf "$out"
mkdir -p "$out"/opt "$out"/app "$out"/etc "$out"/tmp
chmod 1777 "$out"/tmp
"$java_home"/bin/jlink --add-modules "$modules" --strip-debug --no-man-pages --no-header-files \
  --compress=2 --generate-cds-archive --output "$out"/opt/java >/dev/null

# java.desktop is there for java.beans; its windowing, font, image and sound libraries are not
# (a server never loads them), and they would drag X11 and its friends into the image.
(cd "$out"/opt/java/lib && rm -f libawt_xawt.so libjawt.so libsplashscreen.so libfontmanager.so \
  libjavajpeg.so liblcms.so libjsound.so)

# The dynamic loader and every shared library the runtime's binaries and libraries need.
copy_lib() {
  local lib=$1
  case $lib in "$out"/*) return 0 ;; esac # the runtime's own libraries, already in place
  [ -e "$out$lib" ] && return 0
  mkdir -p "$out$(dirname "$lib")"
  cp -L "$lib" "$out$lib"
}
while IFS= read -r elf; do
  ldd "$elf" 2>/dev/null | awk '$3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | while IFS= read -r lib; do
    copy_lib "$lib"
  done
done < <(find "$out"/opt/java -type f \( -name '*.so' -o -path '*/bin/*' \))

cat > "$out"/etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
portcullis:x:10001:10001:portcullis:/nonexistent:/sbin/nologin
PASSWD
cat > "$out"/etc/group <<'GROUP'
root:x:0:
portcullis:x:10001:
GROUP

cp "$jar" "$out"/app/portcullis.jar
touch -d "$stamp" "$out"/app/portcullis.jar

if [ "$(id -u)" = 0 ] && command -v chroot >/dev/null; then
  # The demo drives the request path end to end on loopback (its own issuer and MCP server) and
  # exits; the JVM writes the archive of every class it loaded at exit.
  mkdir -p "$out"/dev
  for dev in null zero random urandom; do
    [ -e "$out/dev/$dev" ] || cp -a "/dev/$dev" "$out/dev/$dev" 2>/dev/null || touch "$out/dev/$dev"
  done
  # No /proc in the chroot, so the loader cannot resolve the launcher's $ORIGIN run path: name the
  # runtime's library folders instead (the image itself has /proc, and needs nothing of the kind).
  LD_LIBRARY_PATH=/opt/java/lib:/opt/java/lib/server chroot "$out" /opt/java/bin/java -XX:ArchiveClassesAtExit=/app/portcullis.jsa -Djava.io.tmpdir=/tmp \
    -jar /app/portcullis.jar demo --port 0 --exercise >"$out.training.log" 2>&1 \
    || { echo "class-data sharing training failed; see $out.training.log" >&2; exit 1; }
  rm -rf "$out"/dev "$out"/tmp/* 
  touch -d "$stamp" "$out"/app/portcullis.jsa
else
  echo "WARNING: not root: the image is built without its class-data sharing archive" >&2
fi
