// Command envoy-stand-in acts where Envoy would in a pod of the simulated environment, and only
// as far as istiod tells it: it reads its node from the bootstrap the pod's pilot-agent wrote,
// takes LDS, RDS, CDS and EDS from the agent's xDS proxy (the Unix socket Envoy would use), and
// its workload certificate from the files the agent wrote (where Envoy would use SDS). Then:
//   - a sidecar's outbound HTTP listeners: the route for the request's Host, the route's cluster,
//     one of its EDS endpoints (by weight), dialled with the cluster's TLS context (SNI, ALPN,
//     client certificate, peer SANs) when the endpoint's transport-socket match says so;
//   - a sidecar's inbound (virtualInbound) TLS filter chains: mTLS terminated with the pod's own
//     certificate, the client's certificate checked against the mesh root, its SPIFFE identity
//     passed on in x-forwarded-client-cert as the HTTP connection manager is configured to;
//   - a router's (gateway's) listeners: the filter chain matching the ClientHello's SNI and ALPN,
//     its tcp_proxy cluster, one EDS endpoint, bytes passed through untouched.
//
// It is not Envoy: no filters beyond these, no retries, outlier detection, metrics exchange or
// kernel redirection (the environment captures a sidecar's outbound by routing, and the app binds
// localhost so that inbound reaches this process at the pod address).
package main

import (
	"encoding/json"
	"flag"
	"log"
	"os"
	"strings"
	"sync"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/encoding/protojson"
)

func main() {
	bootstrap := flag.String("bootstrap", "./etc/istio/proxy/grpc-bootstrap.json", "the bootstrap pilot-agent wrote (its node)")
	xdsSocket := flag.String("xds", "./etc/istio/proxy/XDS", "pilot-agent's xDS proxy socket")
	certDir := flag.String("certs", "./etc/istio/proxy/certs", "where pilot-agent writes the workload certificate (OUTPUT_CERTS)")
	podIP := flag.String("pod-ip", "", "the pod's address (inbound listeners bind it)")
	statsFile := flag.String("stats", "./envoy-stand-in.stats.json", "counters, written on every change")
	configFile := flag.String("config-dump", "./envoy-stand-in.config.json", "what istiod sent, written on every change")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)

	// The agent writes the bootstrap once it starts; Envoy would be started after it.
	var node *core.Node
	for {
		n, err := readNode(*bootstrap)
		if err == nil {
			node = n
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	log.Printf("node %s", node.GetId())
	p := &proxy{
		node:   node,
		certs:  certFiles{dir: *certDir},
		podIP:  *podIP,
		stats:  newStats(*statsFile),
		router: strings.HasPrefix(node.GetId(), "router~"),
		bound:  map[string]bool{},

		configFile: *configFile,
	}
	p.xds = newXDS(*xdsSocket, node, p.onUpdate)
	p.xds.run() // never returns
}

// readNode reads the node of a gRPC bootstrap file (pilot-agent writes the same node it would give
// Envoy), dropping the proxyless generator it adds: this stands in for Envoy, not for a gRPC client.
func readNode(file string) (*core.Node, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var b struct {
		Node json.RawMessage `json:"node"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, err
	}
	node := &core.Node{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b.Node, node); err != nil {
		return nil, err
	}
	if md := node.GetMetadata(); md != nil {
		delete(md.Fields, "GENERATOR")
	}
	return node, nil
}

// stats are counters by name, as Envoy's admin /stats would show them, written to a JSON file.
type stats struct {
	mu     sync.Mutex
	file   string
	counts map[string]int64
}

func newStats(file string) *stats { return &stats{file: file, counts: map[string]int64{}} }

func (s *stats) inc(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[name]++
	raw, _ := json.MarshalIndent(s.counts, "", "  ")
	tmp := s.file + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o644); err == nil {
		_ = os.Rename(tmp, s.file)
	}
}
