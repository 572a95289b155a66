#!/usr/bin/env bash
# Installs what p2ptube needs on a Debian machine: system packages (mpv, ffmpeg, tmux, python3,
# and the real media of the demo: lebiniou-data's MP4 clips, drascula-music's Ogg tracks) via
# apt-get when missing, plus what the network lab tests use (iproute2, nftables, miniupnpd),
# then the npm packages from package-lock.json. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need=()
command -v mpv >/dev/null 2>&1 || need+=(mpv)
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v nc >/dev/null 2>&1 || need+=(netcat-openbsd) # the throughput bench copies with nc
[ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || need+=(iproute2)
[ -x /usr/sbin/nft ] || need+=(nftables)
[ -x /usr/sbin/miniupnpd ] || need+=(miniupnpd)
command -v chromium >/dev/null 2>&1 || need+=(chromium chromium-driver)
[ -d /usr/share/lebiniou/vue/media ] || need+=(lebiniou-data)
[ -d /usr/share/scummvm/drascula/audio ] || need+=(drascula-music)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
npm run build --silent
echo "setup: ready (mpv $(mpv --version | head -1 | cut -d' ' -f2), node $(node --version))"
