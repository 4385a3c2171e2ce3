// Command kubeprep prepares what scripts/testenv.sh needs to start etcd and
// kube-apiserver on a machine that has Go but perhaps no openssl:
//
//	kubeprep keys DIR   writes DIR/sa.key (an ECDSA P-256 private key, PEM)
//	                    and DIR/sa.pub (its public key, PEM), the key pair
//	                    that signs and verifies service-account tokens
//	kubeprep ports N    prints N distinct free TCP ports of 127.0.0.1, one
//	                    a line
//	kubeprep token      prints a random bearer token (32 hex digits)
//	kubeprep probe URL [CA_FILE [TOKEN]]
//	                    exits 0 when a GET of URL answers 200 within two
//	                    seconds; an https URL is verified with CA_FILE, and
//	                    TOKEN, when given, is sent as a bearer token
//
// It uses the standard library only, so building it downloads nothing.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

const usage = "usage: kubeprep keys DIR | ports N | token | probe URL [CA_FILE [TOKEN]]"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "kubeprep: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch cmd, rest := args[0], args[1:]; {
	case cmd == "keys" && len(rest) == 1:
		return writeKeys(rest[0])
	case cmd == "ports" && len(rest) == 1:
		n, err := strconv.Atoi(rest[0])
		if err != nil || n < 1 || n > 16 {
			return fmt.Errorf("ports wants a count from 1 to 16, got %q", rest[0])
		}
		return printPorts(n)
	case cmd == "probe" && len(rest) >= 1 && len(rest) <= 3:
		rest = append(rest, "", "")
		return probe(rest[0], rest[1], rest[2])
	case cmd == "token" && len(rest) == 0:
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		fmt.Println(hex.EncodeToString(b))
		return nil
	default:
		return fmt.Errorf("unknown or malformed command %q; %s", args, usage)
	}
}

// writeKeys writes the service-account key pair, the private key readable
// by its owner alone.
func writeKeys(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	priv, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "sa.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: priv}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644)
}

// printPorts holds every listener open until all are chosen, so that the
// ports differ from each other; another process may still take one before
// the caller binds it, which the caller handles by starting again.
func printPorts(n int) error {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		ls = append(ls, l)
	}
	for _, l := range ls {
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
	}
	return nil
}

// probe reports an error unless a GET of url answers 200.
func probe(url, caFile, token string) error {
	tr := &http.Transport{}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
