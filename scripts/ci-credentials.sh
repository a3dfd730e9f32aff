#!/usr/bin/env bash
# CI only: writes the kubeconfig (KUBECONFIG_CONTENT) to $KUBECONFIG and unpacks the CA files
# (CA_ARCHIVE: base64 of a .tar.gz of <cluster>/{ca-cert,ca-key,root-cert,cert-chain}.pem) into
# certs/$STACK, where the stack's ca.directory points. Prints no secret.
set -euo pipefail
: "${STACK:?STACK is not set}" "${KUBECONFIG:?KUBECONFIG is not set}"
if [ -z "${KUBECONFIG_CONTENT:-}" ]; then
  echo "ci-credentials: repository secret KUBECONFIG_${STACK^^} is empty or missing" >&2
  exit 1
fi
umask 077
mkdir -p "$(dirname "$KUBECONFIG")"
printf '%s\n' "$KUBECONFIG_CONTENT" >"$KUBECONFIG"
if [ -n "${CA_ARCHIVE:-}" ]; then
  mkdir -p "certs/$STACK"
  printf '%s' "$CA_ARCHIVE" | base64 -d | tar -xz -C "certs/$STACK"
  echo "ci-credentials: CA files for $STACK unpacked into certs/$STACK"
fi
echo "ci-credentials: kubeconfig for $STACK written"
