// Command xds-probe connects to istiod's plaintext xDS port as a sidecar of a
// given cluster and network (istio.io/istio/pkg/adsc, Istio's own ADS client)
// and prints, as JSON, the endpoints istiod sends for one Envoy cluster: what
// an Envoy in that place would be told, without running Envoy.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"istio.io/istio/pkg/adsc"
	v3 "istio.io/istio/pilot/pkg/xds/v3"
)

type result struct {
	Cluster   string   `json:"cluster"`
	Endpoints []string `json:"endpoints"`
}

func main() {
	address := flag.String("address", "127.0.0.1:15010", "istiod's plaintext xDS address")
	clusterID := flag.String("cluster-id", "cluster1", "the sidecar's cluster (CLUSTER_ID)")
	network := flag.String("network", "network1", "the sidecar's network (NETWORK)")
	namespace := flag.String("namespace", "sample", "the sidecar's namespace")
	ip := flag.String("ip", "", "the sidecar's IP")
	cluster := flag.String("cluster", "outbound|5000||helloworld.sample.svc.cluster.local", "the Envoy cluster whose endpoints to print")
	timeout := flag.Duration("timeout", 30*time.Second, "how long to wait for the endpoints")
	flag.Parse()

	meta, err := structpb.NewStruct(map[string]any{
		"CLUSTER_ID": *clusterID,
		"NETWORK":    *network,
		"NAMESPACE":  *namespace,
	})
	if err != nil {
		fail(err)
	}
	client, err := adsc.New(*address, &adsc.ADSConfig{
		Config: adsc.Config{ClientName: "xds-probe", Namespace: *namespace, IP: *ip, Meta: meta},
		InitialDiscoveryRequests: []*discovery.DiscoveryRequest{
			{TypeUrl: v3.ClusterType},
			{TypeUrl: v3.EndpointType, ResourceNames: []string{*cluster}},
		},
	})
	if err != nil {
		fail(err)
	}
	if err := client.Run(); err != nil {
		fail(err)
	}
	defer client.Close()

	deadline := time.Now().Add(*timeout)
	for {
		if cla, ok := client.GetEndpoints()[*cluster]; ok {
			var eps []string
			for _, locality := range cla.GetEndpoints() {
				for _, lb := range locality.GetLbEndpoints() {
					sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
					eps = append(eps, fmt.Sprintf("%s:%d", sa.GetAddress(), sa.GetPortValue()))
				}
			}
			sort.Strings(eps)
			out, _ := json.Marshal(result{Cluster: *cluster, Endpoints: eps})
			fmt.Println(string(out))
			return
		}
		if time.Now().After(deadline) {
			fail(fmt.Errorf("no endpoints for %s within %s", *cluster, *timeout))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "xds-probe:", err)
	os.Exit(1)
}
