#!/usr/bin/env bash
# Installs the Debian packages CouncilEx needs to build, test, lint and benchmark,
# when any is missing. Uses sudo when not run as root.
set -euo pipefail

packages=(
  elixir erlang-dev erlang-inets erlang-crypto erlang-syntax-tools
  build-essential make pkg-config
  libcjson-dev libcurl4-openssl-dev libcriterion-dev ca-certificates
  nginx-light wrk
  clang-format erlang-dialyzer
  clang-14 libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi

echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
