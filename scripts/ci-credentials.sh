#!/usr/bin/env bash
# CI only: writes the kubeconfig (KUBECONFIG_CONTENT) to $KUBECONFIG and unpacks the CA files
# (CA_ARCHIVE: base64 of a .tar.gz of <cluster>/{ca-cert,ca-key,root-cert,cert-chain}.pem) into
# certs/$STACK, where the stack's ca.directory points. Both are secrets of the GitHub environment
# $ENVIRONMENT: <stack>-preview for previews, <stack> for deploy and destroy. Prints no secret.
set -euo pipefail
: "${STACK:?STACK is not set}" "${KUBECONFIG:?KUBECONFIG is not set}"
if [ -z "${KUBECONFIG_CONTENT:-}" ]; then
  echo "ci-credentials: secret KUBECONFIG_${STACK^^} is empty or missing in GitHub environment \"${ENVIRONMENT:-$STACK}\" (Settings → Environments → ${ENVIRONMENT:-$STACK} → secrets)" >&2
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
