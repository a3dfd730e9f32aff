package main

import (
	"context"
	"log"
	"path/filepath"
	"sort"
	"sync"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

const (
	listenerType = "type.googleapis.com/envoy.config.listener.v3.Listener"
	routeType    = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
	clusterType  = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	endpointType = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
)

// snapshot is what istiod has sent so far, by resource name.
type snapshot struct {
	listeners map[string]*listener.Listener
	routes    map[string]*route.RouteConfiguration
	clusters  map[string]*cluster.Cluster
	endpoints map[string]*endpoint.ClusterLoadAssignment
}

// xdsClient holds one ADS stream to the agent, as Envoy's bootstrap points it at the agent's socket:
// LDS and CDS as wildcards, RDS and EDS for the names those name, each response ACKed.
type xdsClient struct {
	socket   string
	node     *core.Node
	onUpdate func(snapshot)

	mu  sync.Mutex
	cur snapshot
}

func newXDS(socket string, node *core.Node, onUpdate func(snapshot)) *xdsClient {
	return &xdsClient{socket: socket, node: node, onUpdate: onUpdate, cur: snapshot{
		listeners: map[string]*listener.Listener{}, routes: map[string]*route.RouteConfiguration{},
		clusters: map[string]*cluster.Cluster{}, endpoints: map[string]*endpoint.ClusterLoadAssignment{},
	}}
}

func (x *xdsClient) snapshot() snapshot {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.cur
}

func (x *xdsClient) run() {
	for {
		if err := x.stream(); err != nil {
			log.Printf("xds: %v (again in 1 s)", err)
		}
		time.Sleep(time.Second)
	}
}

func (x *xdsClient) stream() error {
	abs, err := filepath.Abs(x.socket)
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient("unix://"+abs, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ads, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return err
	}
	subscribed := map[string][]string{} // RDS and EDS names asked for
	versions := map[string]string{}
	send := func(typeURL, nonce string) error {
		return ads.Send(&discovery.DiscoveryRequest{
			Node: x.node, TypeUrl: typeURL, VersionInfo: versions[typeURL], ResponseNonce: nonce, ResourceNames: subscribed[typeURL],
		})
	}
	for _, t := range []string{clusterType, listenerType} {
		if err := send(t, ""); err != nil {
			return err
		}
	}
	for {
		resp, err := ads.Recv()
		if err != nil {
			return err
		}
		x.apply(resp)
		versions[resp.GetTypeUrl()] = resp.GetVersionInfo()
		if err := send(resp.GetTypeUrl(), resp.GetNonce()); err != nil { // ACK
			return err
		}
		// Names that CDS and LDS now point at: subscribe when they change, as Envoy does.
		s := x.snapshot()
		for typeURL, names := range map[string][]string{endpointType: edsNames(s), routeType: rdsNames(s)} {
			if !equal(names, subscribed[typeURL]) {
				subscribed[typeURL] = names
				if err := send(typeURL, ""); err != nil {
					return err
				}
			}
		}
		x.onUpdate(s)
	}
}

// apply takes a state-of-the-world response: LDS and CDS replace their whole set; RDS and EDS
// replace the names they carry.
func (x *xdsClient) apply(resp *discovery.DiscoveryResponse) {
	x.mu.Lock()
	defer x.mu.Unlock()
	next := snapshot{listeners: x.cur.listeners, routes: x.cur.routes, clusters: x.cur.clusters, endpoints: x.cur.endpoints}
	switch resp.GetTypeUrl() {
	case listenerType:
		next.listeners = map[string]*listener.Listener{}
	case clusterType:
		next.clusters = map[string]*cluster.Cluster{}
	case routeType:
		next.routes = copyMap(x.cur.routes)
	case endpointType:
		next.endpoints = copyMap(x.cur.endpoints)
	}
	for _, any := range resp.GetResources() {
		switch resp.GetTypeUrl() {
		case listenerType:
			m := &listener.Listener{}
			if any.UnmarshalTo(m) == nil {
				next.listeners[m.GetName()] = m
			}
		case clusterType:
			m := &cluster.Cluster{}
			if any.UnmarshalTo(m) == nil {
				next.clusters[m.GetName()] = m
			}
		case routeType:
			m := &route.RouteConfiguration{}
			if any.UnmarshalTo(m) == nil {
				next.routes[m.GetName()] = m
			}
		case endpointType:
			m := &endpoint.ClusterLoadAssignment{}
			if any.UnmarshalTo(m) == nil {
				next.endpoints[m.GetClusterName()] = m
			}
		}
	}
	x.cur = next
}

func copyMap[V proto.Message](m map[string]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// edsNames are the clusters of type EDS (their service name if set).
func edsNames(s snapshot) []string {
	var names []string
	for _, c := range s.clusters {
		if c.GetType() == cluster.Cluster_EDS {
			n := c.GetEdsClusterConfig().GetServiceName()
			if n == "" {
				n = c.GetName()
			}
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// rdsNames are the route configurations the listeners' HTTP connection managers name.
func rdsNames(s snapshot) []string {
	set := map[string]bool{}
	for _, l := range s.listeners {
		for _, fc := range l.GetFilterChains() {
			if h := httpManager(fc); h != nil && h.GetRds() != nil {
				set[h.GetRds().GetRouteConfigName()] = true
			}
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// httpManager is a filter chain's HTTP connection manager, if it has one.
func httpManager(fc *listener.FilterChain) *hcm.HttpConnectionManager {
	for _, f := range fc.GetFilters() {
		if f.GetName() == "envoy.filters.network.http_connection_manager" {
			m := &hcm.HttpConnectionManager{}
			if f.GetTypedConfig().UnmarshalTo(m) == nil {
				return m
			}
		}
	}
	return nil
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
