#!/usr/bin/env bash
# Install the Debian packages gisapp needs, only those missing. Debian 12 (bookworm).
set -euo pipefail
want=(postgresql-15 postgresql-15-postgis-3 postgresql-15-pgrouting mosquitto mosquitto-clients
      chromium fonts-ipafont-gothic gdal-bin python3-venv   # a Japanese font: screenshots show text, not boxes
      nginx-light libnginx-mod-http-brotli-filter)   # the proxy cache (deploy/nginx/, tests/test_proxy.py)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A Python from elsewhere (pyenv, /usr/local) already has venv: no need for Debian's.
if python3 -c 'import ensurepip, venv' 2>/dev/null; then
  missing=("${missing[@]/python3-venv}")
fi
# Node.js and npm for the JavaScript linter (Biome, from npm: package.json). Debian 12 has node 18 + npm 9;
# a node installed otherwise (with its own npm) is used as it is.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
read -r -a missing <<< "${missing[*]}"
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Debian パッケージをインストールします / installing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Debian starts a default cluster on 5432; gisapp runs its own, so the default one is not needed.
if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql/15/main ]; then
  $sudo pg_ctlcluster 15 main stop 2>/dev/null || true
fi
# The same goes for the nginx site Debian starts on port 80: tests and benchmarks run their own.
if [ -d /run/systemd/system ] && systemctl is-active --quiet nginx 2>/dev/null; then
  $sudo systemctl disable --now nginx 2>/dev/null || true
fi
# Debian starts nginx on port 80 with its default site; gisapp starts its own nginx where needed.
if [ -x /usr/sbin/nginx ] && [ -f /run/nginx.pid ]; then
  $sudo /usr/sbin/nginx -s quit 2>/dev/null || true
fi
