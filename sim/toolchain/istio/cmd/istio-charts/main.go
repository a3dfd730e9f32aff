// Command istio-charts writes the Helm charts that istio.io/istio/manifests
// embeds (base, istiod, gateway) into a directory as <chart>-<version>/, a
// chart repository directory the program's istio.chartRepository accepts.
// Charts of a development commit say 1.0.0 and tag their images latest; like
// Istio's release build, it stamps the version into Chart.yaml (version and
// appVersion) and values.yaml (global.tag, the image tag of istiod's pods, by
// which the simulated environment picks the pilot-discovery to run).
package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"istio.io/istio/manifests"
)

// Where each chart lives in the embedded tree, by its chart name.
var charts = map[string]string{
	"base":    "charts/base",
	"istiod":  "charts/istio-control/istio-discovery",
	"gateway": "charts/gateway",
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: istio-charts <output directory> <version>")
		os.Exit(2)
	}
	out, version := os.Args[1], os.Args[2]
	for name, src := range charts {
		if err := copyTree(src, filepath.Join(out, name+"-"+version), version); err != nil {
			fmt.Fprintf(os.Stderr, "istio-charts: %s: %v\n", name, err)
			os.Exit(1)
		}
	}
}

var (
	chartVersion = regexp.MustCompile(`(?m)^(version|appVersion): .*$`)
	imageTag     = regexp.MustCompile(`(?m)^(    tag: )latest$`)
)

func copyTree(src, dst, version string) error {
	return fs.WalkDir(manifests.FS, src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := fs.ReadFile(manifests.FS, path)
		if err != nil {
			return err
		}
		switch rel {
		case "Chart.yaml":
			data = chartVersion.ReplaceAll(data, []byte("${1}: "+version))
		case "values.yaml":
			data = imageTag.ReplaceAll(data, []byte("${1}"+version))
		}
		return os.WriteFile(target, data, 0o644)
	})
}
