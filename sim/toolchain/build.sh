#!/usr/bin/env bash
# Builds every binary the simulated environment runs, from the Go modules pinned in the go.mod/go.sum
# files beside this script, with the ordinary go command (the Go module proxy is the only source).
# Each piece lands in $SIM_CACHE/bin/<piece>-<version>-<hash of go.sum, its .go files and this script>/, so a second
# run reuses it.
# Prints the directory that holds links to all of them (add it to PATH).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# The go on PATH, else the machines' own at /usr/local/go.
command -v go >/dev/null 2>&1 || export PATH="/usr/local/go/bin:$PATH"
cache="${SIM_CACHE:-$HOME/.cache/istio-multicluster-sim}"
export CGO_ENABLED=0

# The versions, as go.mod pins them; the ldflags below stamp them where each program reports its version.
PULUMI_VERSION=v3.274.1
PULUMI_KUBERNETES_VERSION=4.0.0-20260115033456-f47bc2d6f199
KUBERNETES_VERSION=v1.36.3
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
PULUMI_TLS_VERSION=5.6.1 # the tls provider version @pulumi/tls asks the engine for (./pulumi-tls)
# Two Istio development commits (no release of Istio resolves on the proxy), named as releases are, so
# the program can install both side by side as revisions: the charts are stamped with the version.
ISTIO_VERSION=1.31.0-dev.20260827          # istio.io/istio eed52ebb66ad, in ./istio
ISTIO_PREVIOUS_VERSION=1.31.0-dev.20260423 # istio.io/istio b01690e6db7d, ./istio-previous/go.mod

log() { printf 'toolchain: %s\n' "$*" >&2; }

# source_dir <module>: where the Go sources a module builds are. istio-previous is a go.mod and
# go.sum only: it builds ./istio's commands (with -modfile) against the earlier Istio commit. The
# Envoy stand-in is ours and lives in sim/envoy, beside what it stands in for.
source_dir() { case "$1" in istio-previous) echo istio ;; envoy) echo ../envoy ;; *) echo "$1" ;; esac; }
# mod_dir <module>: where its go.mod and go.sum are.
mod_dir() { case "$1" in envoy) echo ../envoy ;; *) echo "$1" ;; esac; }

# piece_dir <module dir> <version>: the cache directory of one piece, keyed by its version, its go.sum,
# its Go sources (the commands of ours it builds) and this script (which holds the ldflags).
piece_dir() {
  local sum
  sum="$(find "$here/$(source_dir "$1")" -name '*.go' -print0 | sort -z | xargs -0 cat "$here/$(mod_dir "$1")/go.sum" "$here/build.sh" | sha256sum | cut -c1-12)"
  printf '%s/bin/%s-%s-%s' "$cache" "$1" "$2" "$sum"
}

# build <module dir> <version> <ldflags> <out name=package>...: go build each package of the module's
# sources with its go.mod unless cached.
build() {
  local mod="$1" version="$2" ldflags="$3"; shift 3
  local dir; dir="$(piece_dir "$mod" "$version")"
  if [[ -f "$dir/.done" ]]; then
    log "$mod $version: cached in $dir"
  else
    log "$mod $version: building into $dir"
    local start=$SECONDS
    mkdir -p "$dir"
    local spec
    for spec in "$@"; do
      (cd "$here/$(source_dir "$mod")" && go build -modfile="$here/$(mod_dir "$mod")/go.mod" -trimpath -tags osusergo,grpcnotrace -ldflags "-s -w $ldflags" \
        -o "$dir/${spec%%=*}" "${spec#*=}")
    done
    touch "$dir/.done"
    log "$mod $version: built in $((SECONDS - start)) s"
  fi
  mkdir -p "$cache/current"
  local spec
  for spec in "$@"; do ln -sfn "$dir/${spec%%=*}" "$cache/current/${spec%%=*}"; done
}

# The provider's own main embeds files its Makefile generates; ours embeds the schema files the module ships.
prepare_pulumi_kubernetes() {
  local src dst="$here/pulumi-kubernetes/cmd/pulumi-resource-kubernetes"
  # `go list -m` names the module's directory only once it is downloaded (a cold cache has nothing).
  src="$(cd "$here/pulumi-kubernetes" && go mod download github.com/pulumi/pulumi-kubernetes/provider/v4 &&
    go list -m -f '{{.Dir}}' github.com/pulumi/pulumi-kubernetes/provider/v4)/cmd/pulumi-resource-kubernetes"
  install -m 0644 "$src/schema.json" "$dst/schema-embed.json"
  install -m 0644 "$src/terraform-mapping.json" "$dst/terraform-mapping-embed.json"
}

k8s_ldflags() {
  local v="${KUBERNETES_VERSION#v}" pkg out=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    out+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=${v%%.*} -X $pkg.gitMinor=$(cut -d. -f2 <<<"$v")"
    out+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  printf '%s' "$out"
}

build pulumi "$PULUMI_VERSION" "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
  pulumi=github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
prepare_pulumi_kubernetes
build pulumi-kubernetes "$PULUMI_KUBERNETES_VERSION" \
  "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$PULUMI_KUBERNETES_VERSION" \
  pulumi-resource-kubernetes=./cmd/pulumi-resource-kubernetes
# The tls provider embeds the schema the bridge's tfgen generates from the provider itself: tfgen
# first, then its schema, then the provider (the schema is a build product, git-ignored).
tls_ldflags="-X istio-multicluster/sim/toolchain/pulumi-tls/version.Version=$PULUMI_TLS_VERSION"
build pulumi-tls "$PULUMI_TLS_VERSION-tfgen" "$tls_ldflags" pulumi-tfgen-tls=./cmd/pulumi-tfgen-tls
tls_schema="$(mktemp -d)"
# Examples are left out: converting them needs a Terraform converter plugin from GitHub (docs only).
if ! (cd "$tls_schema" && "$cache/current/pulumi-tfgen-tls" schema --skip-examples --out out >tfgen.log 2>&1); then
  cat "$tls_schema/tfgen.log" >&2
  exit 1
fi
install -m 0644 "$tls_schema/out/schema.json" "$here/pulumi-tls/cmd/pulumi-resource-tls/schema-embed.json"
rm -rf "$tls_schema"
build pulumi-tls "$PULUMI_TLS_VERSION" "$tls_ldflags" pulumi-resource-tls=./cmd/pulumi-resource-tls
build etcd "$ETCD_VERSION" "" etcd=go.etcd.io/etcd/server/v3
build kwok "$KWOK_VERSION" \
  "-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBERNETES_VERSION#v}" \
  kwok=sigs.k8s.io/kwok/cmd/kwok kwokctl=sigs.k8s.io/kwok/cmd/kwokctl
build istio-previous "$ISTIO_PREVIOUS_VERSION" "-X istio.io/istio/pkg/version.buildVersion=$ISTIO_PREVIOUS_VERSION" \
  "pilot-discovery-$ISTIO_PREVIOUS_VERSION=istio.io/istio/pilot/cmd/pilot-discovery" istio-charts-previous=./cmd/istio-charts
build istio "$ISTIO_VERSION" "-X istio.io/istio/pkg/version.buildVersion=$ISTIO_VERSION" \
  pilot-discovery=istio.io/istio/pilot/cmd/pilot-discovery xds-probe=./cmd/xds-probe istio-charts=./cmd/istio-charts \
  pilot-agent=istio.io/istio/pilot/cmd/pilot-agent echo-server=istio.io/istio/pkg/test/echo/cmd/server \
  echo-client=istio.io/istio/pkg/test/echo/cmd/client
ln -sfn "$(piece_dir istio "$ISTIO_VERSION")/pilot-discovery" "$cache/current/pilot-discovery-$ISTIO_VERSION"
build envoy "stand-in" "" envoy-stand-in=.
build kubernetes "$KUBERNETES_VERSION" "$(k8s_ldflags)" \
  kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
  kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler kubectl=k8s.io/kubernetes/cmd/kubectl

# Istio's charts of both versions, from the package that embeds them, as one chart directory
# (<chart>-<version>/); istiod pods run the pilot-discovery-<version> their image tag names.
rm -rf "$cache/current/charts"
mkdir -p "$cache/current/charts"
charts() { # charts <module dir> <version> <istio-charts command>
  local dir; dir="$(piece_dir "$1" "$2")/charts"
  rm -rf "$dir" && "$cache/current/$3" "$dir" "$2" # a few files: cheaper than keying them
  local chart
  for chart in base istiod gateway; do ln -sfn "$dir/$chart-$2" "$cache/current/charts/$chart-$2"; done
}
charts istio "$ISTIO_VERSION" istio-charts
charts istio-previous "$ISTIO_PREVIOUS_VERSION" istio-charts-previous
printf '%s\n%s\n' "$ISTIO_VERSION" "$ISTIO_PREVIOUS_VERSION" >"$cache/current/istio-versions"
printf '%s\n' "$cache/current"
