//go:build tools

// The command this module builds; the blank import keeps it in go.mod.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
