//go:build tools

// The command this module builds from Istio; the blank import keeps it in go.mod.
package tools

import _ "istio.io/istio/pilot/cmd/pilot-discovery"
