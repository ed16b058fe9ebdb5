#!/usr/bin/env bash
# System packages and services the test suite uses, installed/started only when missing:
# a Korean font and pdftoppm (report tests), headless Chromium (web dashboard tests, driven
# by Playwright with executable_path=/usr/bin/chromium), and a local MQTT broker (live twin test).
set -euo pipefail

need=()
[ -f /usr/share/fonts/truetype/nanum/NanumGothic.ttf ] || need+=(fonts-nanum)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
broker_up() { (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; }
if ! broker_up && ! command -v mosquitto >/dev/null; then need+=(mosquitto); fi

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "system-deps: please install: ${need[*]} (Debian/Ubuntu: sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! broker_up; then
  mosquitto -d -c /etc/mosquitto/mosquitto.conf 2>/dev/null || mosquitto -d
  for _ in $(seq 1 50); do broker_up && break; sleep 0.1; done
fi
