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
# Exec users (EKS's `aws eks get-token`, GKE's gke-gcloud-auth-plugin, kubelogin…) run a command on
# the runner: it must be there, and `aws` needs AWS credentials in the job.
while IFS= read -r command; do
  if ! command -v "$command" >/dev/null 2>&1; then
    echo "ci-credentials: the kubeconfig's exec user runs \"$command\", which this runner does not have; install it in the workflow, or use a token kubeconfig (README, \"Credentials for CI\")" >&2
    exit 1
  fi
  if [ "$(basename "$command")" = aws ] && [ -z "${AWS_ACCESS_KEY_ID:-}${AWS_WEB_IDENTITY_TOKEN_FILE:-}${AWS_CONTAINER_CREDENTIALS_FULL_URI:-}" ]; then
    echo "ci-credentials: the kubeconfig authenticates with \`aws eks get-token\` but the job has no AWS credentials: set the secrets AWS_ROLE_ARN and AWS_REGION in GitHub environment \"${ENVIRONMENT:-$STACK}\" (the workflow then assumes the role by OIDC), or use a token kubeconfig (README, \"Credentials for CI\")" >&2
    exit 1
  fi
done < <(sed -n 's/^[[:space:]]*command:[[:space:]]*["'"'"']\{0,1\}\([^"'"'"'[:space:]]*\).*$/\1/p' "$KUBECONFIG" | sort -u)
if [ -n "${CA_ARCHIVE:-}" ]; then
  mkdir -p "certs/$STACK"
  printf '%s' "$CA_ARCHIVE" | base64 -d | tar -xz -C "certs/$STACK"
  echo "ci-credentials: CA files for $STACK unpacked into certs/$STACK"
fi
echo "ci-credentials: kubeconfig for $STACK written"
