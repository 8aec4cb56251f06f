// go-verify.go — a Go relying party for selfcert devices (docs/RELYING-PARTY.md), stdlib only.
// `verify ROOT CHAIN [NETWORK]` runs crypto/x509 path validation on a leaf + chain file (and,
// given NETWORK, the relying party's device rule);
// `serve` is a mutual-TLS server admitting a device of one network and echoing its identity.
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// certs reads every CERTIFICATE block of a PEM file, in order.
func certs(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no certificate", path)
	}
	return out, nil
}

// checkDevice is the relying party's own rule on top of path validation: a device of the
// expected network (subject O), and its device ID (subject serialNumber) equal to the one its
// device CA was made for (Go does not enforce directoryName constraints).
func checkDevice(chain []*x509.Certificate, network string) (string, error) {
	leaf := chain[0]
	if network != "" && (len(leaf.Subject.Organization) != 1 || leaf.Subject.Organization[0] != network) {
		return "", fmt.Errorf("network %q is not %q", strings.Join(leaf.Subject.Organization, ","), network)
	}
	if len(chain) < 2 {
		return "", errors.New("no device CA in the chain")
	}
	if leaf.Subject.SerialNumber == "" || leaf.Subject.SerialNumber != chain[1].Subject.SerialNumber {
		return "", fmt.Errorf("device %q is not its device CA's %q", leaf.Subject.SerialNumber, chain[1].Subject.SerialNumber)
	}
	return leaf.Subject.SerialNumber, nil
}

func verify(args []string) int {
	if len(args) < 2 || len(args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: go-verify verify ROOT.pem CHAIN.pem [NETWORK]")
		return 2
	}
	roots, err := certs(args[0])
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	chain, err := certs(args[1])
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	opts := x509.VerifyOptions{Roots: x509.NewCertPool(), Intermediates: x509.NewCertPool(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	for _, r := range roots {
		opts.Roots.AddCert(r)
	}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	paths, err := chain[0].Verify(opts)
	if err != nil {
		fmt.Println("refused:", err)
		return 1
	}
	if len(args) == 2 { // path validation alone: what Go itself enforces
		fmt.Println("admitted:", chain[0].Subject.SerialNumber)
		return 0
	}
	id, err := checkDevice(paths[0], args[2])
	if err != nil {
		fmt.Println("refused:", err)
		return 1
	}
	fmt.Println("admitted:", id)
	return 0
}

// serve: TLS 1.2/1.3 with a required client certificate, verified against ROOT (the
// manufacturer root); the device's chain is what the client sends. One line echoed per
// connection: "hello DEVICE-ID".
func serve(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cert := fs.String("cert", "", "server certificate (PEM)")
	key := fs.String("key", "", "server key (PEM)")
	root := fs.String("ca", "", "manufacturer root (PEM)")
	network := fs.String("network", "", "the network ID to admit")
	addr := fs.String("listen", "127.0.0.1:0", "address")
	if fs.Parse(args) != nil || *cert == "" || *key == "" || *root == "" || *network == "" {
		fmt.Fprintln(os.Stderr, "usage: go-verify serve --cert C --key K --ca ROOT --network ID [--listen ADDR]")
		return 2
	}
	pair, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-verify:", err)
		return 1
	}
	roots, err := certs(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-verify:", err)
		return 1
	}
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: pool, MinVersion: tls.VersionTLS12,
		// Runs after Go's own path validation (name constraints it handles included).
		VerifyPeerCertificate: func(_ [][]byte, chains [][]*x509.Certificate) error {
			_, err := checkDevice(chains[0], *network)
			return err
		}}
	ln, err := tls.Listen("tcp", *addr, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-verify:", err)
		return 1
	}
	fmt.Println("listening on", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			return 1
		}
		go func(c net.Conn) {
			defer c.Close()
			tc := c.(*tls.Conn)
			_ = tc.SetDeadline(time.Now().Add(20 * time.Second))
			if err := tc.Handshake(); err != nil {
				fmt.Fprintln(os.Stderr, "refused:", err)
				return
			}
			leaf := tc.ConnectionState().PeerCertificates[0]
			fmt.Fprintln(os.Stderr, "admitted:", leaf.Subject.SerialNumber)
			line, _ := bufio.NewReader(tc).ReadString('\n')
			fmt.Fprintf(tc, "hello %s %s", leaf.Subject.SerialNumber, line)
		}(c)
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go-verify verify|serve …")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "verify":
		os.Exit(verify(os.Args[2:]))
	case "serve":
		os.Exit(serve(os.Args[2:]))
	}
	fmt.Fprintln(os.Stderr, "go-verify: unknown command", os.Args[1])
	os.Exit(2)
}
