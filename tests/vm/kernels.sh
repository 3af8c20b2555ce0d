# Debian kernel packages for the VM runners, sourced by tests/vm/run (and
# usable by other runners: everything is keyed by the Debian architecture).
#
#   vm_apt ARCH apt-get|apt-cache ARGS...   apt over a private configuration
#   vm_kernel_pkg ARCH SERIES               newest linux-image-* of a series
#   vm_kernel_fetch ARCH PKG DIR            PKG and, for the split layout
#                                           (6.19+), its linux-binary-*,
#                                           linux-modules-* and linux-base-*
#                                           (config, modules.order...)
#                                           unpacked into DIR
#
# Other suites' kernels (bullseye's 5.10, trixie's and sid's newer ones) come
# through tests/vm/apt, the project's one private apt configuration
# ($VM_CACHE/apt-ARCH: its own sources.list, lists, cache and status), so
# the machine's own sources stay as they are.
# Needs: $cache (the VM cache directory) and a log function.

VM_APT=${VM_APT:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/apt}   # absolute: used after a cd

vm_apt() {
    local arch=$1; shift
    "$VM_APT" -a "$arch" "$@"
}

# Package names of linux-image-* for ARCH and a series: 5.10, 6.1, 6.12,
# newest (the highest version of any suite), or a package name as is.
vm_kernel_pkg() {
    local arch=$1 series=$2 flavour re
    case $arch in amd64) flavour=amd64 ;; arm64) flavour=arm64 ;; *) flavour=$arch ;; esac
    case $series in
        linux-image-*) echo "$series"; return 0 ;;
        5.10) re="^linux-image-5\.10\.0-[0-9]+-$flavour\$" ;;
        6.1)  re="^linux-image-6\.1\.0-[0-9]+-$flavour\$" ;;
        newest) re="^linux-image-[0-9]+\.[0-9]+[0-9.]*(-[0-9]+)?(\+deb[0-9]+)?-$flavour\$" ;;
        [0-9]*.[0-9]*)
              re="^linux-image-${series//./\\.}\.[0-9]+(\+deb[0-9]+)?-$flavour\$" ;;
        *) echo "vm: unknown kernel '$series' (5.10, 6.1, 6.12, newest, a series such as 6.16, or a package name)" >&2
           return 2 ;;
    esac
    vm_apt "$arch" apt-cache search --names-only "$re" | awk '{print $1}' \
        | grep -Ev -- '-(dbg|unsigned)$' | sort -V | tail -1
}

# Download PKG (and, when it is a meta package over the split layout, the
# linux-binary-*/-modules-*/-base-* it depends on) and unpack them into DIR.
vm_kernel_fetch() {
    local arch=$1 pkg=$2 dir=$3 debs=$cache/debs dep
    local want=("$pkg")
    for dep in $(vm_apt "$arch" apt-cache depends --no-recommends --no-suggests "$pkg" 2>/dev/null \
                 | awk '$1 ~ /Depends:/ {print $2}' | grep -E '^linux-(binary|modules|base)-[0-9]'); do
        want+=("$dep")
    done
    mkdir -p "$debs" "$dir"
    chmod 777 "$debs"          # apt-get download runs as _apt
    for p in "${want[@]}"; do
        if ! ls "$debs/${p}"_*.deb >/dev/null 2>&1; then
            log "downloading $p"
            (cd "$debs" && vm_apt "$arch" apt-get -q download "$p" >&2)
        fi
        dpkg -x "$(ls "$debs/${p}"_*.deb | sort -V | tail -1)" "$dir"
    done
}
