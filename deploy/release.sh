#!/usr/bin/env bash
# Build a versioned release binary of jiraduck for the machine's platform
# (linux-amd64 on the build servers) and its checksum:
#
#   deploy/release.sh                 # version from git describe
#   VERSION=v1.2.0 deploy/release.sh  # explicit version
#
# Writes dist/jiraduck-$VERSION-linux-amd64 and a .sha256 file next to it
# that `sha256sum -c` accepts. Works from a clean checkout; needs Go and a
# C compiler (cgo: the DuckDB driver links DuckDB's C++ library).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
commit=${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
goos=$("$GO" env GOOS)
goarch=$("$GO" env GOARCH)

# The version ends up in a file name and in -ldflags: keep it to a safe set.
if [[ ! $version =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]]; then
  echo "release: version '$version' must be letters, digits, '.', '_', '+' or '-'" >&2
  exit 2
fi

name="jiraduck-${version}-${goos}-${goarch}"
mkdir -p dist
out="dist/${name}"

echo "release: building ${name} (commit ${commit})"
CGO_ENABLED=1 "$GO" build -trimpath \
  -ldflags "-s -w -X main.version=${version} -X main.commit=${commit}" \
  -o "${out}.tmp" ./cmd/jiraduck
mv -f "${out}.tmp" "${out}"

# Refuse to publish a binary that does not start or carries another version.
got=$("./${out}" version)
case $got in
  "jiraduck ${version} (commit ${commit},"*) ;;
  *) echo "release: ${out} reports '${got}', want version ${version} commit ${commit}" >&2; exit 1 ;;
esac
echo "release: ${got}"

# The checksum file names the binary without the dist/ prefix, so it is
# checked with: cd dist && sha256sum -c jiraduck-...-linux-amd64.sha256
(cd dist && sha256sum "${name}" | tee "${name}.sha256")
