// Package version holds the provider's version, stamped by build.sh's ldflags: the version the
// @pulumi/tls package asks the engine for. The bridge refuses to start without one.
package version

// Version is the Pulumi provider version.
var Version string
