package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// certFiles are the workload key, certificate chain and mesh root that pilot-agent writes with
// OUTPUT_CERTS (read at each use: the agent rotates them).
type certFiles struct{ dir string }

func (f certFiles) keyPair() (tls.Certificate, error) {
	return tls.LoadX509KeyPair(filepath.Join(f.dir, "cert-chain.pem"), filepath.Join(f.dir, "key.pem"))
}

func (f certFiles) roots() (*x509.CertPool, error) {
	pem, err := os.ReadFile(filepath.Join(f.dir, "root-cert.pem"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no certificate in root-cert.pem")
	}
	return pool, nil
}

// identity is the SPIFFE URI of the workload certificate.
func (f certFiles) identity() string {
	kp, err := f.keyPair()
	if err != nil || len(kp.Certificate) == 0 {
		return ""
	}
	leaf, err := x509.ParseCertificate(kp.Certificate[0])
	if err != nil || len(leaf.URIs) == 0 {
		return ""
	}
	return leaf.URIs[0].String()
}

// verify checks a peer's chain against the mesh root and returns its SPIFFE URI.
func (f certFiles) verify(rawCerts [][]byte) (string, error) {
	if len(rawCerts) == 0 {
		return "", errors.New("no peer certificate")
	}
	roots, err := f.roots()
	if err != nil {
		return "", err
	}
	certs := make([]*x509.Certificate, 0, len(rawCerts))
	for _, raw := range rawCerts {
		c, err := x509.ParseCertificate(raw)
		if err != nil {
			return "", err
		}
		certs = append(certs, c)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return "", err
	}
	if len(certs[0].URIs) == 0 {
		return "", errors.New("peer certificate has no URI SAN")
	}
	return certs[0].URIs[0].String(), nil
}

// clientConfig is an UpstreamTlsContext as Go's TLS client: SNI, ALPN, the workload certificate,
// and the peer's chain and SANs checked as its validation context says.
func (f certFiles) clientConfig(up *tlsv3.UpstreamTlsContext) (*tls.Config, error) {
	kp, err := f.keyPair()
	if err != nil {
		return nil, err
	}
	common := up.GetCommonTlsContext()
	vc := common.GetCombinedValidationContext().GetDefaultValidationContext()
	if vc == nil {
		vc = common.GetValidationContext()
	}
	return &tls.Config{
		ServerName:         up.GetSni(),
		NextProtos:         common.GetAlpnProtocols(),
		Certificates:       []tls.Certificate{kp},
		InsecureSkipVerify: true, // verified below: chain to the mesh root, SAN by the validation context
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			uri, err := f.verify(raw)
			if err != nil {
				return err
			}
			return sanMatches(vc, uri)
		},
	}, nil
}

func sanMatches(vc *tlsv3.CertificateValidationContext, uri string) error {
	matchers := vc.GetMatchTypedSubjectAltNames()
	if len(matchers) == 0 {
		return nil
	}
	for _, m := range matchers {
		sm := m.GetMatcher()
		if (sm.GetExact() != "" && sm.GetExact() == uri) || (sm.GetPrefix() != "" && strings.HasPrefix(uri, sm.GetPrefix())) {
			return nil
		}
	}
	return fmt.Errorf("peer %s matches none of the cluster's subject alt names", uri)
}

// serverConfig terminates TLS with the workload certificate, the filter chain chosen by the
// client's ALPN; a client certificate is required when the chain says so and checked against the
// mesh root; its SPIFFE URI is written to identity.
func (f certFiles) serverConfig(choose func(alpn []string) (*tlsv3.DownstreamTlsContext, error), identity *string) (*tls.Config, error) {
	return &tls.Config{
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			dt, err := choose(hello.SupportedProtos)
			if err != nil {
				return nil, err
			}
			kp, err := f.keyPair()
			if err != nil {
				return nil, err
			}
			auth := tls.RequestClientCert
			if dt.GetRequireClientCertificate().GetValue() {
				auth = tls.RequireAnyClientCert
			}
			return &tls.Config{
				Certificates: []tls.Certificate{kp},
				ClientAuth:   auth,
				VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
					if len(raw) == 0 {
						return nil
					}
					uri, err := f.verify(raw)
					*identity = uri
					return err
				},
			}, nil
		},
	}, nil
}

// peekClientHello reads a connection's ClientHello, returning what it says and the bytes read, to
// be replayed upstream untouched.
func peekClientHello(c net.Conn) (*tls.ClientHelloInfo, []byte, error) {
	rec := &recordingConn{Conn: c}
	var hello *tls.ClientHelloInfo
	errSeen := errors.New("seen")
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	err := tls.Server(rec, &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		hello = h
		return nil, errSeen
	}}).Handshake()
	_ = c.SetReadDeadline(time.Time{})
	if hello == nil {
		return nil, nil, fmt.Errorf("no TLS ClientHello: %v", err)
	}
	return hello, rec.buf.Bytes(), nil
}

// recordingConn keeps what is read and writes nothing (the handshake is only inspected).
type recordingConn struct {
	net.Conn
	buf bytes.Buffer
}

func (r *recordingConn) Read(b []byte) (int, error) {
	n, err := r.Conn.Read(b)
	r.buf.Write(b[:n])
	return n, err
}
func (r *recordingConn) Write(b []byte) (int, error) { return len(b), nil }
