// pulumi-tfgen-tls writes the tls package's Pulumi schema (`schema --skip-examples --out <dir>`),
// which pulumi-resource-tls embeds: build.sh runs it before building the provider.
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	tls "istio-multicluster/sim/toolchain/pulumi-tls"
)

func main() { tfgen.Main("tls", tls.Provider()) }
