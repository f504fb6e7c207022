package sandbox

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The sandbox's HTTPS: a CA made for each sandbox (its certificate in the
// state directory, the env file's AWS_CA_BUNDLE) and a server certificate
// it signs for the names the sandbox is reached by.

// CAFile is the name, in the state directory, of the PEM file holding
// the sandbox's CA certificate when it serves HTTPS (Config.TLS).
const CAFile = "ca.pem"

// tlsLifetime is how long the sandbox's CA and certificate are valid.
const tlsLifetime = 30 * 24 * time.Hour

// checkHostName checks Config.HostName: a DNS name of letters, digits and
// hyphens in dot-separated labels, not an IP address.
func checkHostName(name string) error {
	if name == "" {
		return nil
	}
	if net.ParseIP(name) != nil {
		return fmt.Errorf("host name %q is an IP address: give a DNS name (the loopback addresses are always in the certificate)", name)
	}
	if len(name) > 253 {
		return fmt.Errorf("host name %q is longer than 253 characters", name)
	}
	for _, l := range strings.Split(name, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("host name %q has an empty, too long or hyphen-edged label", name)
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("host name %q has a character other than letters, digits, hyphens and dots", name)
			}
		}
	}
	return nil
}

// newTLS makes the sandbox's CA, writes its certificate to dir/CAFile and
// returns the server configuration with a certificate for ip (the
// listener's), the loopback addresses, localhost and hostName (if any).
func newTLS(dir string, ip net.IP, hostName string) (*tls.Config, string, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", fmt.Errorf("sandbox CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "jitssh sandbox CA " + now.UTC().Format(time.RFC3339), Organization: []string{"jitssh-sandbox"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(tlsLifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, "", fmt.Errorf("sandbox CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", fmt.Errorf("sandbox server key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "jitssh sandbox"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(tlsLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip != nil && !ip.Equal(net.IPv4(127, 0, 0, 1)) && !ip.Equal(net.IPv6loopback) && !ip.IsUnspecified() {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	}
	if hostName != "" {
		tmpl.DNSNames = append(tmpl.DNSNames, hostName)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, "", fmt.Errorf("sandbox server certificate: %w", err)
	}
	path, err := filepath.Abs(filepath.Join(dir, CAFile))
	if err != nil {
		return nil, "", err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		return nil, "", fmt.Errorf("write the sandbox's CA certificate: %w", err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der, caDER}, PrivateKey: key}},
		NextProtos:   []string{"http/1.1"},
	}
	return cfg, path, nil
}

// serverNames records the SNI of each TLS connection (TLSServerNames).
type serverNames struct {
	mu    sync.Mutex
	names map[string]int
}

// watch makes cfg record the server name of each client hello.
func (n *serverNames) watch(cfg *tls.Config) {
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		n.mu.Lock()
		if n.names == nil {
			n.names = map[string]int{}
		}
		n.names[hello.ServerName]++
		n.mu.Unlock()
		return nil, nil
	}
}

// TLSServerNames returns how many TLS connections the API listener
// accepted per server name the client sent (SNI; "" for none, as for an
// IP address), with Config.TLS.
func (sb *Sandbox) TLSServerNames() map[string]int {
	sb.sni.mu.Lock()
	defer sb.sni.mu.Unlock()
	out := map[string]int{}
	for k, v := range sb.sni.names {
		out[k] = v
	}
	return out
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}
