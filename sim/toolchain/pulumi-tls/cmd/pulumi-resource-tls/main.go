// pulumi-resource-tls is the resource plugin of Pulumi's tls package, for the simulated environment.
package main

import (
	"context"
	_ "embed"
	"encoding/json"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"

	tls "istio-multicluster/sim/toolchain/pulumi-tls"
	"istio-multicluster/sim/toolchain/pulumi-tls/version"
)

// The schema pulumi-tfgen-tls generated (build.sh writes it here; git-ignored).
//
//go:embed schema-embed.json
var schema []byte

func main() {
	tfbridge.Main(context.Background(), "tls", tls.Provider(), tfbridge.ProviderMetadata{PackageSchema: withVersion(schema)})
}

// withVersion sets the schema's version to the provider's (tfgen leaves it out).
func withVersion(raw []byte) []byte {
	var s map[string]json.RawMessage
	if err := json.Unmarshal(raw, &s); err != nil {
		panic(err)
	}
	v, _ := json.Marshal(version.Version)
	s["version"] = v
	out, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return out
}
