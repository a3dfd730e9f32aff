//go:build tools

// The commands this module builds; the blank imports keep them in go.mod.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
	_ "sigs.k8s.io/kwok/cmd/kwokctl"
)
