# Shared by deploy/up and deploy/check. Source it; do not run it.
# Installs what is missing from Debian 12's packages (idempotent, quiet when
# nothing is missing) and builds with a CMake preset.

TALLY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Everything the project needs on a fresh Debian 12 machine: toolchain,
# libraries (headers), the real peers tests use (mosquitto, umockdev), openssl
# (deploy/certs).
TALLY_PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git ca-certificates curl openssl
  libboost-dev libusb-1.0-0-dev libsqlite3-dev sqlite3
  libpaho-mqttpp-dev libpaho-mqtt-dev libzxing-dev libstb-dev libzbar-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  libssl-dev libgtest-dev libgmock-dev libbenchmark-dev clang clang-tidy libclang-rt-14-dev
  mosquitto mosquitto-clients umockdev libumockdev-dev
  libpq-dev postgresql python3-jsonschema
  chromium
)

tally_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

tally_install_missing() {
  local missing=() pkg
  for pkg in "${TALLY_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deploy: missing packages (${missing[*]}) and not root; install them or run as root" >&2; return 1; }
    sudo="sudo"
  fi
  tally_log "installing ${#missing[@]} Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # A package's maintainer script must not start services (mosquitto) on a
  # build machine: policy-rc.d says no for the time of the install.
  local policy=/usr/sbin/policy-rc.d created_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod +x "$policy" && created_policy=1
  fi
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  local rc=$?
  [ -n "$created_policy" ] && $sudo rm -f "$policy"
  return $rc
}

# tally_build PRESET [TARGET…]: configure (once) and build.
tally_build() {
  local preset=$1; shift
  cd "$TALLY_ROOT" || return 1
  export CCACHE_DIR=${CCACHE_DIR:-$TALLY_ROOT/build/ccache}
  if [ ! -f "build/$preset/CMakeCache.txt" ]; then
    tally_log "configuring ($preset)"
    cmake --preset "$preset" >/dev/null || return 1
  fi
  tally_log "building ($preset)"
  local targets=()
  for t in "$@"; do targets+=(--target "$t"); done
  cmake --build --preset "$preset" "${targets[@]}" -- -j"$(nproc)"
}
