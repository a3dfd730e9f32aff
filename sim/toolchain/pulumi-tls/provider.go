// Package tls maps terraform-provider-tls (terraform-plugin-framework) onto the tokens of Pulumi's
// tls package, with pulumi-terraform-bridge's plugin-framework support.
package tls

import (
	_ "embed"

	pf "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	"github.com/hashicorp/terraform-provider-tls/shim"

	"istio-multicluster/sim/toolchain/pulumi-tls/version"
)

// The bridge's metadata, as tfgen writes it beside the schema; for this provider it is empty ({}),
// and tfgen itself needs it to start.
//
//go:embed bridge-metadata.json
var metadata []byte

// Provider describes the tls package to the bridge.
func Provider() tfbridge.ProviderInfo {
	return tfbridge.ProviderInfo{
		P:            pf.ShimProvider(shim.NewProvider()),
		Name:         "tls",
		Version:      version.Version,
		Description:  "TLS resources (keys, self-signed and locally signed certificates), bridged from terraform-provider-tls.",
		License:      "Apache-2.0",
		GitHubOrg:    "hashicorp",
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		Resources: map[string]*tfbridge.ResourceInfo{
			"tls_private_key":         {Tok: "tls:index/privateKey:PrivateKey"},
			"tls_self_signed_cert":    {Tok: "tls:index/selfSignedCert:SelfSignedCert"},
			"tls_cert_request":        {Tok: "tls:index/certRequest:CertRequest"},
			"tls_locally_signed_cert": {Tok: "tls:index/locallySignedCert:LocallySignedCert"},
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"tls_certificate": {Tok: "tls:index/getCertificate:getCertificate"},
			"tls_public_key":  {Tok: "tls:index/getPublicKey:getPublicKey"},
		},
		// As the published provider: state schema versions and previews behave as @pulumi/tls expects.
		EnableZeroDefaultSchemaVersion: true,
		EnableAccurateBridgePreview:    true,
	}
}
