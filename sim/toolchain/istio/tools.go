//go:build tools

// The commands this module builds from Istio; the blank imports keep them in go.mod: istiod, the
// sidecar's agent, and Istio's own test workload (the echo app's server and client).
package tools

import (
	_ "istio.io/istio/pilot/cmd/pilot-agent"
	_ "istio.io/istio/pilot/cmd/pilot-discovery"
	_ "istio.io/istio/pkg/test/echo/cmd/client"
	_ "istio.io/istio/pkg/test/echo/cmd/server"
)
