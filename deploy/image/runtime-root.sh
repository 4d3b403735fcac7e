#!/usr/bin/env bash
# The image's base, made from the build machine's JDK and libraries so that building the image pulls nothing:
# a root filesystem with a jlink'ed Java runtime at /opt/java/openjdk, the shared libraries that it and the
# application's native libraries link against (whatever ldd finds: glibc, libstdc++, libgcc_s, zlib), glibc's C.UTF-8
# locale, the user ipt (10001), /etc/nsswitch.conf and /tmp. Jib lays it under the application (standalone/pom.xml,
# profile image); deploy/README.md lists what it holds.
#   runtime-root.sh JAVA_HOME LIB_DIR ROOT
# JAVA_HOME: the JDK whose jmods make the runtime; LIB_DIR: the application's jars, whose native libraries are
# checked with ldd; ROOT: the directory to write (replaced).
set -euo pipefail
java_home="$1" libs="$2" root="$3"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The modules the application uses: jdeps over standalone/target/lib (java.base, java.compiler, java.desktop for
# java.beans, java.logging, java.management, java.naming, java.net.http, java.rmi, java.scripting, java.sql,
# java.xml, jdk.httpserver, jdk.management, jdk.net, jdk.unsupported), plus what is found at run time rather than
# linked: Kafka's SASL (java.security.sasl) and Kerberos (java.security.jgss, jdk.security.jgss, jdk.security.auth),
# elliptic-curve TLS (jdk.crypto.ec), the extra charsets (jdk.charsets) and the zip file system (jdk.zipfs).
modules=java.base,java.compiler,java.desktop,java.logging,java.management,java.naming,java.net.http,java.rmi
modules+=,java.scripting,java.security.jgss,java.security.sasl,java.sql,java.xml,jdk.charsets,jdk.crypto.ec
modules+=,jdk.httpserver,jdk.management,jdk.net,jdk.security.auth,jdk.security.jgss,jdk.unsupported,jdk.zipfs
# java.desktop is here for java.beans only: its native libraries (windows, sound, fonts, images) would pull in X11,
# ALSA and font libraries that a headless service never loads.
awt='**/libawt*.so,**/libsplashscreen.so,**/libjsound.so,**/libjawt.so,**/libfontmanager.so,**/libjavajpeg.so,**/liblcms.so,**/libmlib_image.so'
"$java_home/bin/jlink" --add-modules "$modules" --exclude-files="$awt" --strip-debug --no-man-pages --no-header-files \
  --output "$work/jre"
# Debian's JDK keeps cacerts, blocked.certs and the public suffix list as links into /etc: take the files.
cp -L "$java_home"/lib/security/* "$work/jre/lib/security/"
if ! "$work/jre/bin/keytool" -list -cacerts -storepass changeit 2>/dev/null | grep -q trustedCertEntry; then
  echo "runtime-root.sh: no CA certificates in $java_home/lib/security/cacerts (Debian: apt-get install ca-certificates-java)" >&2
  exit 1
fi

# The application's native libraries for linux x86-64 (CPU builds, glibc), unpacked only to be checked with ldd:
# at run time DJL, RocksDB and the others unpack them from their jars into /tmp.
for jar in "$libs"/*.jar; do
  entries="$(unzip -Z1 "$jar" | grep -E '\.so(\.[0-9]+)?$' | grep -iE 'linux([-_/]?(x86[-_]64|amd64)|64)' \
    | grep -viE '/cu[0-9]|musl' || true)"
  if [ -n "$entries" ]; then
    mkdir -p "$work/native/$(basename "$jar")"
    # shellcheck disable=SC2086 # one entry per word: none has spaces
    unzip -q "$jar" $entries -d "$work/native/$(basename "$jar")"
  fi
done

rm -rf "$root"
mkdir -p "$root/opt/java" "$root/etc" "$root/tmp"
cp -rL "$work/jre" "$root/opt/java/openjdk"   # -L: the runtime's legal notices are links too

# Every library the runtime and the native libraries need from the system, by the path the loader finds it at.
search="$(find "$work/jre/lib" "$work/native" -name '*.so*' -printf '%h\n' | sort -u | paste -sd:)"
mapfile -t elves < <(find "$work/jre" "$work/native" -type f \( -name '*.so*' -o -perm -u+x \) \
  -exec sh -c 'head -c4 "$1" | grep -q ELF' _ {} \; -print)
needed="$(for f in "${elves[@]}"; do LD_LIBRARY_PATH="$search" ldd "$f" | sed "s|^|$f: |"; done)"
if grep 'not found' <<<"$needed" >&2; then
  echo "runtime-root.sh: the libraries above are missing on this machine" >&2
  exit 1
fi
mapfile -t system < <(grep -oE '(=> )?/[^ ]+ \(0x' <<<"$needed" | sed -E 's/^=> //; s/ \(0x$//' \
  | grep -vE "^$work/" | sort -u)
for lib in "${system[@]}"; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
# Java takes its default charset from the locale: without C.UTF-8's data in the image it would be ASCII.
mkdir -p "$root/usr/lib/locale"
cp -rL /usr/lib/locale/C.utf8 "$root/usr/lib/locale/"

# Which Debian packages the files came from, where image scanners look for them (as distroless images do).
if command -v dpkg-query >/dev/null; then
  mkdir -p "$root/var/lib/dpkg/status.d"
  # dpkg knows a library by the path its package ships it at: /lib/... or, merged into /usr, /usr/lib/...
  packages="$(for path in "${system[@]}" /usr/lib/locale/C.utf8 "$java_home/jmods"; do
    { dpkg-query -S "$path" 2>/dev/null || dpkg-query -S "/usr$path" 2>/dev/null || echo "runtime-root.sh: $path is from no Debian package" >&2; } \
      | sed -n '1s/: .*//p'
  done | sort -u)"
  for package in $packages; do
    dpkg-query -s "$package" > "$root/var/lib/dpkg/status.d/${package%%:*}"
  done
  echo "runtime-root.sh: from the Debian packages $(paste -sd" " <<<"$packages")"
  cp -L /etc/os-release "$root/etc/os-release"
fi

cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
ipt:x:10001:10001:ipt:/tmp:/sbin/nologin
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
ipt:x:10001:
GROUP
# Without this file glibc reads /etc/hosts (localhost, hostAliases) only when DNS is unreachable, not when DNS says no.
cat > "$root/etc/nsswitch.conf" <<'NSS'
passwd: files
group:  files
hosts:  files dns
NSS

echo "runtime-root.sh: $(du -sh "$root" | cut -f1) in $root, $("$root/opt/java/openjdk/bin/java" -version 2>&1 | sed -n 2p)"
