#!/usr/bin/env bash
# Copy the dashboard's third-party browser code from the npm registry into the package:
# pinned versions, the dist file and its LICENSE, never edited by hand. Re-run after a bump and
# commit the result (no build step at install). Usage: scripts/vendor_web.sh
set -euo pipefail
cd "$(dirname "$0")/.."

HLS_VERSION=1.5.20
DEST=src/heldar/web/static/vendor

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "hls.js@${HLS_VERSION}" >/dev/null)
tar -xzf "$tmp/hls.js-${HLS_VERSION}.tgz" -C "$tmp"
mkdir -p "$DEST"
cp "$tmp/package/dist/hls.min.js" "$DEST/hls.min.js"
cp "$tmp/package/LICENSE" "$DEST/hls.js.LICENSE"
printf 'hls.js %s  %s\n' "$HLS_VERSION" "$(sha256sum "$DEST/hls.min.js" | cut -d' ' -f1)" > "$DEST/VERSIONS"
echo "vendored hls.js ${HLS_VERSION} into ${DEST}"
