// Package shim hands over the upstream provider, whose constructor lives in an internal package: its
// import path sits under github.com/hashicorp/terraform-provider-tls, so Go lets it import
// .../internal/provider; the main module reaches it through a replace to this folder.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"
	upstream "github.com/hashicorp/terraform-provider-tls/internal/provider"
)

// NewProvider returns the upstream terraform-plugin-framework TLS provider.
func NewProvider() provider.Provider { return upstream.New() }
