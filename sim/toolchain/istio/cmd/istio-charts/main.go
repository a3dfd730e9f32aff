// Command istio-charts writes the Helm charts that istio.io/istio/manifests
// embeds (base, istiod, gateway) into a directory, as a chart repository
// directory the program's istio.chartRepository accepts.
package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"istio.io/istio/manifests"
)

// Where each chart lives in the embedded tree, by its chart name.
var charts = map[string]string{
	"base":    "charts/base",
	"istiod":  "charts/istio-control/istio-discovery",
	"gateway": "charts/gateway",
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: istio-charts <output directory>")
		os.Exit(2)
	}
	out := os.Args[1]
	for name, src := range charts {
		if err := copyTree(src, filepath.Join(out, name)); err != nil {
			fmt.Fprintf(os.Stderr, "istio-charts: %s: %v\n", name, err)
			os.Exit(1)
		}
	}
}

func copyTree(src, dst string) error {
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
		return os.WriteFile(target, data, 0o644)
	})
}
