package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxy "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

type proxy struct {
	node   *core.Node
	certs  certFiles
	podIP  string
	stats  *stats
	router bool
	xds    *xdsClient
	// configFile receives the config dump ("" for none).
	configFile string

	mu    sync.Mutex
	bound map[string]bool // addresses tried once (bound, or failed and logged): never again
	rr    sync.Map        // round-robin counters by cluster
}

// onUpdate listens wherever the listeners now say (a listener once bound stays: connections read
// the newest snapshot when they arrive).
func (p *proxy) onUpdate(s snapshot) {
	p.dumpConfig(s)
	for _, l := range s.listeners {
		addr := l.GetAddress().GetSocketAddress()
		if addr == nil {
			continue
		}
		port := int(addr.GetPortValue())
		name := l.GetName()
		switch {
		case p.router && hasFilter(l, "envoy.filters.network.tcp_proxy"):
			p.listen(fmt.Sprintf("%s:%d", addr.GetAddress(), port), func(c net.Conn) { p.passThrough(name, c) })
		case !p.router && name == "virtualInbound":
			for _, port := range inboundTLSPorts(l) {
				p.listen(fmt.Sprintf("%s:%d", p.podIP, port), func(c net.Conn) { p.inbound(port, c) })
			}
		case !p.router && l.GetTrafficDirection() == core.TrafficDirection_OUTBOUND && rdsOf(l) != "":
			rds := rdsOf(l)
			strip := stripsPort(l)
			// An outbound listener Envoy reaches through its virtual listener (bind_to_port false, the
			// original destination picking it): bound here at each Service address its routes name,
			// in the pod's own network namespace, where the environment routes the app's connections
			// to Service addresses (not at 0.0.0.0: the app may serve the same port).
			for _, vip := range serviceAddresses(s.routes[rds], port) {
				p.listenHTTP(fmt.Sprintf("%s:%d", vip, port), func(w http.ResponseWriter, r *http.Request) { p.outbound(rds, strip, w, r) })
			}
		}
	}
}

// listen binds an address once and accepts connections on it.
func (p *proxy) listen(address string, handle func(net.Conn)) {
	p.serve(address, func(l net.Listener) {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	})
}

func (p *proxy) listenHTTP(address string, handler http.HandlerFunc) {
	p.serve(address, func(l net.Listener) { _ = http.Serve(l, handler) })
}

func (p *proxy) serve(address string, run func(net.Listener)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bound[address] {
		return
	}
	p.bound[address] = true
	l, err := net.Listen("tcp", address)
	if err != nil {
		log.Printf("listen %s: %v", address, err)
		return
	}
	log.Printf("listening on %s", address)
	go run(l)
}

// serviceAddresses are the IP addresses among a route configuration's virtual host domains (Istio
// lists each Service's ClusterIP, with and without the port).
func serviceAddresses(rc *route.RouteConfiguration, port int) []string {
	seen := map[string]bool{}
	var out []string
	for _, vh := range rc.GetVirtualHosts() {
		for _, d := range vh.GetDomains() {
			host := strings.TrimSuffix(d, fmt.Sprintf(":%d", port))
			if ip := net.ParseIP(host); ip != nil && ip.To4() != nil && !seen[host] {
				seen[host] = true
				out = append(out, host)
			}
		}
	}
	return out
}

func hasFilter(l *listener.Listener, name string) bool {
	for _, fc := range l.GetFilterChains() {
		for _, f := range fc.GetFilters() {
			if f.GetName() == name {
				return true
			}
		}
	}
	return false
}

// stripsPort says whether the listener's HTTP connection manager matches hosts without their port.
func stripsPort(l *listener.Listener) bool {
	for _, fc := range l.GetFilterChains() {
		if h := httpManager(fc); h != nil && h.GetRds() != nil {
			return h.GetStripAnyHostPort() || h.GetStripMatchingHostPort()
		}
	}
	return false
}

func rdsOf(l *listener.Listener) string {
	for _, fc := range l.GetFilterChains() {
		if h := httpManager(fc); h != nil && h.GetRds() != nil {
			return h.GetRds().GetRouteConfigName()
		}
	}
	return ""
}

// inboundTLSPorts are the destination ports of virtualInbound's TLS filter chains.
func inboundTLSPorts(l *listener.Listener) []int {
	seen := map[int]bool{}
	var ports []int
	for _, fc := range l.GetFilterChains() {
		m := fc.GetFilterChainMatch()
		port := int(m.GetDestinationPort().GetValue())
		if port == 0 || m.GetTransportProtocol() != "tls" || seen[port] || port == int(l.GetAddress().GetSocketAddress().GetPortValue()) {
			continue
		}
		seen[port] = true
		ports = append(ports, port)
	}
	return ports
}

// ---- outbound (sidecar) ----

type clusterKey struct{}

func (p *proxy) outbound(rds string, stripPort bool, w http.ResponseWriter, r *http.Request) {
	s := p.xds.snapshot()
	rc := s.routes[rds]
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil && (stripPort || rc.GetIgnorePortInHostMatching()) {
		host = h // domains are matched without the port, as the route configuration or connection manager says
	}
	clusterName := routeCluster(rc, host, r.URL.Path)
	if clusterName == "" {
		http.Error(w, "no route (NR)", http.StatusNotFound)
		return
	}
	p.stats.inc("outbound." + clusterName + ".upstream_rq_total")
	upstream := "" // the endpoint this request's connection went to, as Envoy's %UPSTREAM_HOST%
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = pr.In.Host
			pr.Out.Host = pr.In.Host
		},
		Transport: &http.Transport{
			DisableKeepAlives: true, // a connection, and so an endpoint, per request
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				conn, ep, err := p.dialCluster(ctx.Value(clusterKey{}).(string))
				upstream = ep
				return conn, err
			},
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			p.stats.inc("outbound." + clusterName + ".upstream_rq_503")
			reason := err.Error()
			if upstream != "" && !strings.Contains(reason, upstream) {
				reason += " (upstream " + upstream + ")"
			}
			http.Error(w, "upstream connect error or disconnect/reset before headers: "+reason, http.StatusServiceUnavailable)
		},
	}
	rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clusterKey{}, clusterName)))
}

// routeCluster is the cluster of the first route of the virtual host matching the request's Host.
func routeCluster(rc *route.RouteConfiguration, host, path string) string {
	host = strings.ToLower(host)
	var vh *route.VirtualHost
	for _, exact := range []bool{true, false} {
		for _, v := range rc.GetVirtualHosts() {
			for _, d := range v.GetDomains() {
				if (exact && d == host) || (!exact && (d == "*" || (strings.HasPrefix(d, "*") && strings.HasSuffix(host, d[1:])))) {
					vh = v
					break
				}
			}
			if vh != nil {
				break
			}
		}
		if vh != nil {
			break
		}
	}
	for _, rt := range vh.GetRoutes() {
		m := rt.GetMatch()
		ok := (m.GetPrefix() != "" && strings.HasPrefix(path, m.GetPrefix())) || (m.GetPath() != "" && path == m.GetPath())
		if !ok {
			continue
		}
		if c := rt.GetRoute().GetCluster(); c != "" {
			return c
		}
		if wc := rt.GetRoute().GetWeightedClusters().GetClusters(); len(wc) > 0 {
			return wc[0].GetName()
		}
	}
	return ""
}

// dialCluster connects to one of a cluster's endpoints, with the transport socket its match says;
// it returns the endpoint it picked too.
func (p *proxy) dialCluster(name string) (net.Conn, string, error) {
	s := p.xds.snapshot()
	c := s.clusters[name]
	if c == nil {
		return nil, "", fmt.Errorf("no cluster %s", name)
	}
	ep, metadata, err := p.pick(s, c)
	if err != nil {
		return nil, "", err
	}
	conn, err := net.Dial("tcp", ep)
	if err != nil {
		return nil, ep, err
	}
	ts := transportSocketFor(c, metadata)
	if ts == nil || ts.GetName() != "envoy.transport_sockets.tls" {
		return conn, ep, nil
	}
	up := &tlsv3.UpstreamTlsContext{}
	if err := ts.GetTypedConfig().UnmarshalTo(up); err != nil {
		conn.Close()
		return nil, ep, err
	}
	cfg, err := p.certs.clientConfig(up)
	if err != nil {
		conn.Close()
		return nil, ep, err
	}
	tc := tls.Client(conn, cfg)
	if err := tc.Handshake(); err != nil {
		conn.Close()
		return nil, ep, fmt.Errorf("TLS to %s (SNI %s): %w", ep, up.GetSni(), err)
	}
	p.stats.inc("outbound." + name + ".upstream_cx_tls")
	return tc, ep, nil
}

// pick is the next endpoint of a cluster by weighted round robin over healthy endpoints.
func (p *proxy) pick(s snapshot, c *cluster.Cluster) (string, map[string]string, error) {
	name := c.GetEdsClusterConfig().GetServiceName()
	if name == "" {
		name = c.GetName()
	}
	cla := s.endpoints[name]
	if cla == nil {
		cla = c.GetLoadAssignment()
	}
	type choice struct {
		addr string
		md   map[string]string
	}
	var choices []choice
	for _, loc := range cla.GetEndpoints() {
		for _, lb := range loc.GetLbEndpoints() {
			if hs := lb.GetHealthStatus(); hs != core.HealthStatus_UNKNOWN && hs != core.HealthStatus_HEALTHY {
				continue
			}
			sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
			if sa == nil {
				continue
			}
			md := map[string]string{}
			for k, v := range lb.GetMetadata().GetFilterMetadata()["envoy.transport_socket_match"].GetFields() {
				md[k] = v.GetStringValue()
			}
			weight := int(lb.GetLoadBalancingWeight().GetValue())
			if weight < 1 {
				weight = 1
			}
			for i := 0; i < weight; i++ {
				choices = append(choices, choice{fmt.Sprintf("%s:%d", sa.GetAddress(), sa.GetPortValue()), md})
			}
		}
	}
	if len(choices) == 0 {
		return "", nil, fmt.Errorf("no healthy upstream in %s", c.GetName())
	}
	v, _ := p.rr.LoadOrStore(c.GetName(), new(atomic.Int64))
	n := v.(*atomic.Int64).Add(1)
	ch := choices[int(n)%len(choices)]
	return ch.addr, ch.md, nil
}

// transportSocketFor is the first transport_socket_matches entry whose match the endpoint's
// metadata satisfies (Istio's auto mTLS: tlsMode istio), else the cluster's transport socket.
func transportSocketFor(c *cluster.Cluster, md map[string]string) *core.TransportSocket {
	for _, m := range c.GetTransportSocketMatches() {
		ok := true
		for k, v := range m.GetMatch().GetFields() {
			if md[k] != v.GetStringValue() {
				ok = false
			}
		}
		if ok {
			return m.GetTransportSocket()
		}
	}
	return c.GetTransportSocket()
}

// ---- inbound (sidecar) ----

// inbound terminates mTLS on a virtualInbound port and hands the request to the app on localhost.
func (p *proxy) inbound(port int, raw net.Conn) {
	defer raw.Close()
	s := p.xds.snapshot()
	var chosen *listener.FilterChain
	var identity string
	cfg, err := p.certs.serverConfig(func(alpn []string) (*tlsv3.DownstreamTlsContext, error) {
		chosen = inboundChain(s.listeners["virtualInbound"], port, alpn)
		if chosen == nil {
			return nil, fmt.Errorf("no filter chain for port %d, ALPN %v", port, alpn)
		}
		dt := &tlsv3.DownstreamTlsContext{}
		if err := chosen.GetTransportSocket().GetTypedConfig().UnmarshalTo(dt); err != nil {
			return nil, err
		}
		return dt, nil
	}, &identity)
	if err != nil {
		log.Printf("inbound %d: %v", port, err)
		return
	}
	tc := tls.Server(raw, cfg)
	if err := tc.Handshake(); err != nil {
		p.stats.inc(fmt.Sprintf("inbound.%d.ssl.handshake_error", port))
		log.Printf("inbound %d from %s: %v", port, raw.RemoteAddr(), err)
		return
	}
	p.stats.inc(fmt.Sprintf("inbound.%d.peer.%s", port, identity))
	app := fmt.Sprintf("127.0.0.1:%d", port)
	h := httpManager(chosen)
	if h == nil { // a TCP chain: bytes to the app
		up, err := net.Dial("tcp", app)
		if err != nil {
			return
		}
		pipe(tc, up)
		return
	}
	self := p.certs.identity()
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = app
			pr.Out.Host = pr.In.Host
			if h.GetForwardClientCertDetails() != hcm.HttpConnectionManager_SANITIZE && identity != "" {
				xfcc := "By=" + self
				if h.GetSetCurrentClientCertDetails().GetUri() {
					xfcc += ";URI=" + identity
				}
				if prev := pr.In.Header.Get("X-Forwarded-Client-Cert"); prev != "" && h.GetForwardClientCertDetails() == hcm.HttpConnectionManager_APPEND_FORWARD {
					xfcc = prev + "," + xfcc
				}
				pr.Out.Header.Set("X-Forwarded-Client-Cert", xfcc)
			}
		},
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	srv := &http.Server{Handler: rp}
	_ = srv.Serve(&oneConnListener{conn: tc})
}

// inboundChain is virtualInbound's TLS filter chain for a port whose ALPNs meet the client's,
// else the port's first TLS chain with an HTTP connection manager.
func inboundChain(l *listener.Listener, port int, alpn []string) *listener.FilterChain {
	var fallback *listener.FilterChain
	for _, fc := range l.GetFilterChains() {
		m := fc.GetFilterChainMatch()
		if int(m.GetDestinationPort().GetValue()) != port || m.GetTransportProtocol() != "tls" {
			continue
		}
		if intersects(m.GetApplicationProtocols(), alpn) {
			return fc
		}
		if fallback == nil && httpManager(fc) != nil {
			fallback = fc
		}
	}
	return fallback
}

// ---- router (gateway) ----

// passThrough routes a connection by its ClientHello to the filter chain's tcp_proxy cluster.
func (p *proxy) passThrough(listenerName string, c net.Conn) {
	defer c.Close()
	hello, buffered, err := peekClientHello(c)
	if err != nil {
		log.Printf("%s: %v", listenerName, err)
		return
	}
	s := p.xds.snapshot()
	fc := routerChain(s.listeners[listenerName], hello.ServerName, hello.SupportedProtos)
	clusterName := ""
	for _, f := range fc.GetFilters() {
		if f.GetName() == "envoy.filters.network.tcp_proxy" {
			tp := &tcpproxy.TcpProxy{}
			if f.GetTypedConfig().UnmarshalTo(tp) == nil {
				clusterName = tp.GetCluster()
				if wc := tp.GetWeightedClusters().GetClusters(); clusterName == "" && len(wc) > 0 {
					clusterName = wc[0].GetName()
				}
			}
		}
	}
	if clusterName == "" {
		p.stats.inc(listenerName + ".no_filter_chain_match")
		log.Printf("%s: no filter chain for SNI %q ALPN %v", listenerName, hello.ServerName, hello.SupportedProtos)
		return
	}
	cl := s.clusters[clusterName]
	if cl == nil {
		log.Printf("%s: no cluster %s", listenerName, clusterName)
		return
	}
	ep, _, err := p.pick(s, cl)
	if err != nil {
		log.Printf("%s: %v", listenerName, err)
		return
	}
	up, err := net.Dial("tcp", ep)
	if err != nil {
		log.Printf("%s: %s: %v", listenerName, ep, err)
		return
	}
	p.stats.inc(fmt.Sprintf("%s.%s.cx_total", listenerName, clusterName))
	if _, err := up.Write(buffered); err != nil {
		up.Close()
		return
	}
	pipe(c, up)
}

// routerChain is the filter chain whose server names match the SNI (exact before wildcard, a chain
// without server names last) and whose ALPNs, if it lists any, meet the client's.
func routerChain(l *listener.Listener, sni string, alpn []string) *listener.FilterChain {
	var wildcard, any *listener.FilterChain
	for _, fc := range l.GetFilterChains() {
		m := fc.GetFilterChainMatch()
		if len(m.GetApplicationProtocols()) > 0 && !intersects(m.GetApplicationProtocols(), alpn) {
			continue
		}
		if len(m.GetServerNames()) == 0 {
			if any == nil {
				any = fc
			}
			continue
		}
		for _, n := range m.GetServerNames() {
			if n == sni {
				return fc
			}
			if strings.HasPrefix(n, "*.") && strings.HasSuffix(sni, n[1:]) && wildcard == nil {
				wildcard = fc
			}
		}
	}
	if wildcard != nil {
		return wildcard
	}
	return any
}

func intersects(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
	b.Close()
}

// oneConnListener serves exactly one connection to an http.Server.
type oneConnListener struct {
	conn net.Conn
	once sync.Once
	done chan struct{}
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	var c net.Conn
	l.once.Do(func() {
		c = l.conn
		l.done = make(chan struct{})
	})
	if c != nil {
		return &closeNotify{Conn: c, done: l.done}, nil
	}
	<-l.done
	return nil, net.ErrClosed
}
func (l *oneConnListener) Close() error   { return nil }
func (l *oneConnListener) Addr() net.Addr { return l.conn.LocalAddr() }

type closeNotify struct {
	net.Conn
	done chan struct{}
	once sync.Once
}

func (c *closeNotify) Close() error {
	c.once.Do(func() { close(c.done) })
	return c.Conn.Close()
}

// dumpConfig writes a summary of what istiod sent (listeners' filter chains, routes, clusters' TLS,
// endpoints) to a file beside the stats, for people and tests looking into a pod. Not Envoy's
// /config_dump: Istio's own filters' typed configs cannot be rendered without their types.
func (p *proxy) dumpConfig(s snapshot) {
	if p.configFile == "" {
		return
	}
	type chain struct {
		ServerNames []string `json:"serverNames,omitempty"`
		ALPN        []string `json:"alpn,omitempty"`
		Transport   string   `json:"transport,omitempty"`
		Port        uint32   `json:"destinationPort,omitempty"`
		Filters     []string `json:"filters"`
		RDS         string   `json:"rds,omitempty"`
		TCPCluster  string   `json:"tcpCluster,omitempty"`
	}
	type vhost struct {
		Domains  []string `json:"domains"`
		Clusters []string `json:"clusters"`
	}
	type clusterSummary struct {
		Type string   `json:"type"`
		SNI  []string `json:"sni,omitempty"`
		ALPN []string `json:"alpn,omitempty"`
	}
	out := struct {
		Listeners map[string][]chain          `json:"listeners"`
		Routes    map[string]map[string]vhost `json:"routes"`
		Clusters  map[string]clusterSummary   `json:"clusters"`
		Endpoints map[string][]string         `json:"endpoints"`
	}{map[string][]chain{}, map[string]map[string]vhost{}, map[string]clusterSummary{}, map[string][]string{}}
	for n, l := range s.listeners {
		for _, fc := range l.GetFilterChains() {
			m := fc.GetFilterChainMatch()
			c := chain{ServerNames: m.GetServerNames(), ALPN: m.GetApplicationProtocols(), Transport: m.GetTransportProtocol(), Port: m.GetDestinationPort().GetValue()}
			for _, f := range fc.GetFilters() {
				c.Filters = append(c.Filters, f.GetName())
				if f.GetName() == "envoy.filters.network.tcp_proxy" {
					tp := &tcpproxy.TcpProxy{}
					if f.GetTypedConfig().UnmarshalTo(tp) == nil {
						c.TCPCluster = tp.GetCluster()
					}
				}
			}
			if h := httpManager(fc); h != nil {
				c.RDS = h.GetRds().GetRouteConfigName()
			}
			out.Listeners[n] = append(out.Listeners[n], c)
		}
	}
	for n, rc := range s.routes {
		vhs := map[string]vhost{}
		for _, vh := range rc.GetVirtualHosts() {
			v := vhost{Domains: vh.GetDomains()}
			for _, r := range vh.GetRoutes() {
				v.Clusters = append(v.Clusters, r.GetRoute().GetCluster())
			}
			vhs[vh.GetName()] = v
		}
		out.Routes[n] = vhs
	}
	for n, c := range s.clusters {
		cs := clusterSummary{Type: c.GetType().String()}
		sockets := []*core.TransportSocket{c.GetTransportSocket()}
		for _, m := range c.GetTransportSocketMatches() {
			sockets = append(sockets, m.GetTransportSocket())
		}
		for _, ts := range sockets {
			up := &tlsv3.UpstreamTlsContext{}
			if ts.GetName() == "envoy.transport_sockets.tls" && ts.GetTypedConfig().UnmarshalTo(up) == nil {
				cs.SNI = append(cs.SNI, up.GetSni())
				cs.ALPN = up.GetCommonTlsContext().GetAlpnProtocols()
			}
		}
		out.Clusters[n] = cs
	}
	for n, cla := range s.endpoints {
		var eps []string
		for _, loc := range cla.GetEndpoints() {
			for _, lb := range loc.GetLbEndpoints() {
				sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
				eps = append(eps, fmt.Sprintf("%s:%d weight=%d", sa.GetAddress(), sa.GetPortValue(), lb.GetLoadBalancingWeight().GetValue()))
			}
		}
		out.Endpoints[n] = eps
	}
	raw, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return
	}
	if err := os.WriteFile(p.configFile+".tmp", raw, 0o644); err == nil {
		_ = os.Rename(p.configFile+".tmp", p.configFile)
	}
}
