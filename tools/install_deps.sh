#!/usr/bin/env bash
# Installs the system libraries dlinfer builds against (idempotent; needs root or sudo).
set -euo pipefail
packages=(pkg-config libhdf5-dev libopenblas-dev libjpeg-dev make qemu-user)
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "${packages[@]}"
