#!/usr/bin/env bash
# npm run dev:clusters [-- --delete | --check [--require TOOL]...]
#
# Two local kind clusters, cluster1 and cluster2, on kind's docker network "kind", with LoadBalancer
# support from cloud-provider-kind, and a Pulumi.dev.yaml whose apiServer values are the addresses the
# clusters reach each other on (the control-plane containers' IPs, never 127.0.0.1).
#   --delete         remove the clusters and the load balancer controller
#   --check          only check the prerequisites (docker with a running engine, kind, kubectl)
#   --require TOOL   also require TOOL on PATH (the demo adds pulumi)
#
# Runs on bash 3.2 (macOS's /bin/bash): no associative arrays, and empty arrays expanded only through ${a[@]+...}.
set -euo pipefail

CLUSTERS=(cluster1 cluster2)
# v0.11.1: the newest tag of kubernetes-sigs/cloud-provider-kind (there is no v0.12.0).
CPK_IMAGE="registry.k8s.io/cloud-provider-kind/cloud-controller-manager:v0.11.1"
CPK_CONTAINER="istio-multicluster-cloud-provider-kind"
ROOT="$(cd "${BASH_SOURCE[0]%/*}/.." && pwd)"

how_to_install() {
  case "$1" in
    docker) echo "https://docs.docker.com/engine/install/" ;;
    kind) echo "https://kind.sigs.k8s.io/docs/user/quick-start/#installation" ;;
    kubectl) echo "https://kubernetes.io/docs/tasks/tools/" ;;
    pulumi) echo "https://www.pulumi.com/docs/install/" ;;
    *) echo "install it" ;;
  esac
}

check_prerequisites() {
  local missing="" tool
  for tool in docker kind kubectl "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+="  - $tool ($(how_to_install "$tool"))"$'\n'
  done
  if [ -n "$missing" ]; then
    echo "dev:clusters: missing prerequisites:" >&2
    printf '%s' "$missing" >&2
    return 3
  fi
  if ! docker info >/dev/null 2>&1; then
    echo "dev:clusters: docker is installed but its engine does not answer (start Docker, or check your permissions on its socket)" >&2
    return 3
  fi
}

control_plane_ip() {
  docker inspect -f '{{with index .NetworkSettings.Networks "kind"}}{{.IPAddress}}{{end}}' "$1-control-plane"
}

create() {
  local c existing
  existing="$(kind get clusters 2>/dev/null || true)"
  for c in "${CLUSTERS[@]}"; do
    if grep -qx "$c" <<<"$existing"; then
      echo "kind cluster $c exists"
    else
      kind create cluster --name "$c" --wait 180s
    fi
  done
  if [ -z "$(docker ps -q --filter "name=^${CPK_CONTAINER}$")" ]; then
    docker rm -f "$CPK_CONTAINER" >/dev/null 2>&1 || true
    docker run -d --name "$CPK_CONTAINER" --restart unless-stopped --network kind \
      -v /var/run/docker.sock:/var/run/docker.sock "$CPK_IMAGE" >/dev/null
    echo "cloud-provider-kind started (LoadBalancer Services get addresses on the kind network)"
  fi
  write_stack_file
}

write_stack_file() {
  local ip1 ip2
  ip1="$(control_plane_ip cluster1)"
  ip2="$(control_plane_ip cluster2)"
  if [ -z "$ip1" ] || [ -z "$ip2" ]; then
    echo "dev:clusters: could not read the control planes' addresses on the kind network" >&2
    return 1
  fi
  cat >"$ROOT/Pulumi.dev.yaml" <<YAML
# Written by npm run dev:clusters: two kind clusters on the docker network "kind".
# apiServer is the address istiod (a pod in cluster1) reaches each API server on; the kubeconfig's
# own 127.0.0.1 address only works from the laptop.
config:
  istio-multicluster:primary:
    name: cluster1
    network: network1
    context: kind-cluster1
    apiServer: https://${ip1}:6443
  istio-multicluster:remotes:
    - name: cluster2
      network: network2
      context: kind-cluster2
      apiServer: https://${ip2}:6443
  istio-multicluster:sample:
    enabled: true
YAML
  echo "wrote Pulumi.dev.yaml (cluster1 API at https://${ip1}:6443, cluster2 API at https://${ip2}:6443)"
}

delete() {
  local c
  for c in "${CLUSTERS[@]}"; do kind delete cluster --name "$c"; done
  docker rm -f "$CPK_CONTAINER" >/dev/null 2>&1 || true
  echo "deleted the kind clusters and the load balancer controller"
}

usage() {
  cat <<'USAGE'
usage: npm run dev:clusters [-- --delete | --check [--require TOOL]...]
  Two local kind clusters (cluster1, cluster2) with LoadBalancer support, and a Pulumi.dev.yaml for them.
  Needs Docker (a running engine), kind and kubectl.
  --delete         remove the clusters and the load balancer controller
  --check          only check the prerequisites
  --require TOOL   also require TOOL on PATH
  -h, --help       this text
USAGE
}

main() {
  local mode=create required=()
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --delete) mode=delete ;;
      --check) mode=check ;;
      --require)
        if (($# < 2)); then echo "dev:clusters: --require needs a TOOL" >&2; usage >&2; return 2; fi
        required+=("$2"); shift ;;
      *) echo "dev:clusters: unknown argument $1" >&2; usage >&2; return 2 ;;
    esac
    shift
  done
  # ${a[@]+"${a[@]}"}: an empty array expands to nothing (bash < 4.4 calls "${a[@]}" unbound under set -u).
  check_prerequisites ${required[@]+"${required[@]}"}
  case "$mode" in
    check) echo "dev:clusters: prerequisites present" ;;
    delete) delete ;;
    create) create ;;
  esac
}

main "$@"
