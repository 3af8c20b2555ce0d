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
# through a private apt configuration ($VM_CACHE/apt/ARCH: its own
# sources.list, lists, cache and status), so the machine's own sources stay
# as they are.  The archive hosts are read from the machine's apt sources
# (the URI serving its Debian suites and the one serving *-security).
# Needs: $cache (the VM cache directory) and a log function.

VM_SUITES=${VM_SUITES:-"bullseye bullseye-updates bookworm bookworm-updates bookworm-backports trixie trixie-updates trixie-backports sid"}
VM_SECURITY_SUITES=${VM_SECURITY_SUITES:-"bullseye-security bookworm-security trixie-security"}
VM_APT_MAX_AGE=${VM_APT_MAX_AGE:-21600}      # refresh the private lists after 6 h

# "main-URI security-URI" from the machine's apt sources (one-line and deb822).
_vm_mirrors() {
    local files=() f main="" sec=""
    [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && files+=("$f")
    done
    # one "URI SUITE..." line per source entry, comments dropped
    local entries
    entries=$(awk '
        /^[[:space:]]*#/ { next }
        FNR == 1 { flush() }
        function flush() { if (uri != "" && suites != "") print uri, suites; uri = ""; suites = "" }
        /^deb[[:space:]]/ { sub(/\[[^]]*\][[:space:]]*/, ""); print $2, $3; next }
        /^[[:space:]]*$/ { flush(); next }
        tolower($1) == "uris:" { uri = $2 }
        tolower($1) == "suites:" { $1 = ""; suites = $0 }
        END { flush() }' "${files[@]}" 2>/dev/null)
    while read -r uri suites; do
        for s in $suites; do
            case $s in
                *-security) [ -n "$sec" ] || sec=$uri ;;
                bullseye|bookworm|trixie|forky|sid|unstable|testing|stable|oldstable|*-updates|*-backports)
                    [ -n "$main" ] || main=$uri ;;
            esac
        done
    done <<<"$entries"
    [ -n "$main" ] || return 1
    [ -n "$sec" ] || sec=${main%/}-security
    echo "${main%/} ${sec%/}"
}

vm_apt() {
    local arch=$1; shift
    local d=$cache/apt/$arch
    if [ ! -f "$d/apt.conf" ]; then
        local mirrors main sec
        mirrors=$(_vm_mirrors) || { echo "vm: no Debian archive in the machine's apt sources" >&2; return 2; }
        read -r main sec <<<"$mirrors"
        mkdir -p "$d/lists/partial" "$d/archives/partial" "$d/etc/preferences.d" "$d/etc/sources.list.d"
        : >"$d/status"
        {
            for s in $VM_SUITES; do echo "deb [arch=$arch] $main $s main"; done
            for s in $VM_SECURITY_SUITES; do echo "deb [arch=$arch] $sec $s main"; done
        } >"$d/sources.list"
        cat >"$d/apt.conf.tmp" <<EOF
Dir::Etc::SourceList "$d/sources.list";
Dir::Etc::SourceParts "$d/etc/sources.list.d";
Dir::Etc::Preferences "$d/etc/preferences";
Dir::Etc::PreferencesParts "$d/etc/preferences.d";
Dir::State "$d";
Dir::State::Lists "$d/lists";
Dir::State::status "$d/status";
Dir::Cache "$d";
Dir::Cache::Archives "$d/archives";
APT::Architecture "$arch";
APT::Architectures "$arch";
Acquire::Languages "none";
Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";
EOF
        mv "$d/apt.conf.tmp" "$d/apt.conf"
        chown -R _apt "$d/lists" "$d/archives" 2>/dev/null || true
    fi
    local stamp=$d/updated
    if [ ! -f "$stamp" ] || [ $(( $(date +%s) - $(stat -c %Y "$stamp") )) -gt "$VM_APT_MAX_AGE" ]; then
        log "refreshing the private apt lists ($arch: $VM_SUITES $VM_SECURITY_SUITES)"
        # a suite missing from the archive (one retired, one not yet there)
        # must not stop the others: apt-get update then fails, but keeps
        # what it got
        APT_CONFIG=$d/apt.conf apt-get -q update >"$d/update.log" 2>&1 \
            || { grep -E '^(E|W):' "$d/update.log" >&2; log "apt-get update: errors above; using what it got"; }
        touch "$stamp"
    fi
    APT_CONFIG=$d/apt.conf "$@"
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
