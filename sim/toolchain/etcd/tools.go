//go:build tools

// The command this module builds; the blank import keeps it in go.mod.
package tools

import _ "go.etcd.io/etcd/server/v3"
