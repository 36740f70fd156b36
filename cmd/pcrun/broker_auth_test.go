package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pcrun/pcrun/internal/exitcode"
)

// A pipeline through a `pcrun broker` that wants a token, a user and
// password, TLS, or TLS with client certificates: with the matching queue
// keys every item arrives; with wrong or missing ones the run says what
// the broker refused and which keys supply it, and exits 1.

// certs are the PEM files of a throwaway CA, a server certificate for
// 127.0.0.1 and a client certificate, both signed by it, and of another
// CA and a client certificate it signed.
type certs struct {
	ca, serverCert, serverKey, clientCert, clientKey string
	otherCA, strangerCert, strangerKey               string
}

// pki writes certificates and keys into a directory.
type pki struct {
	t      *testing.T
	dir    string
	serial int64
}

func (p *pki) write(name, kind string, der []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// sign makes a key and a certificate for it from tmpl, signed by parent
// and parentKey (self-signed when nil), and writes both as name.pem and
// name-key.pem.
func (p *pki) sign(name string, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, string, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serial++
	tmpl.SerialNumber, tmpl.Subject = big.NewInt(p.serial), pkix.Name{CommonName: name}
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		p.t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		p.t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		p.t.Fatal(err)
	}
	return cert, key, p.write(name+".pem", "CERTIFICATE", der), p.write(name+"-key.pem", "PRIVATE KEY", keyDER)
}

func caTemplate() *x509.Certificate {
	return &x509.Certificate{IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
}

func clientTemplate() *x509.Certificate {
	return &x509.Certificate{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
}

// makeCerts writes a throwaway PKI into a temporary directory.
func makeCerts(t *testing.T) certs {
	t.Helper()
	p := &pki{t: t, dir: t.TempDir()}
	var c certs
	ca, caKey, caPEM, _ := p.sign("ca", caTemplate(), nil, nil)
	other, otherKey, otherPEM, _ := p.sign("other-ca", caTemplate(), nil, nil)
	c.ca, c.otherCA = caPEM, otherPEM
	server := &x509.Certificate{IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	_, _, c.serverCert, c.serverKey = p.sign("server", server, ca, caKey)
	_, _, c.clientCert, c.clientKey = p.sign("client", clientTemplate(), ca, caKey)
	_, _, c.strangerCert, c.strangerKey = p.sign("stranger", clientTemplate(), other, otherKey)
	return c
}

const secureYAML = `
name: secure
queues:
  main: {backend: nats, url: "%s", capacity: 5%s}
producers:
  - {name: p, count: 20, item: "item ${i}"}
consumers:
  - {name: c, replicas: 2, do: [print: "${worker} Ate ${item}"]}
`

// secureRun is one run of the pipeline through a secured broker: its
// url and further queue keys, its environment, and what it must do.
type secureRun struct {
	name    string
	url     string // %s: the broker's host:port
	keys    string // more queue keys, after a comma
	env     []string
	code    int
	message *regexp.Regexp // in stderr when the run fails
}

// startSecureBroker starts `pcrun broker` with args and env, and returns
// its host:port and its stderr up to its notes for clients.
func startSecureBroker(t *testing.T, env []string, args ...string) (hostPort, notes string) {
	t.Helper()
	cmd := exec.Command(pcrunBinary(t), append([]string{"broker", "--port", "0", "--memory"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	p := startCommand(t, cmd)
	ready := regexp.MustCompile(`^pcrun: broker ready at (?:nats|tls)://(\S+); store `)
	p.waitFor(t, p.stderr, "broker ready", 1, ready.MatchString, 20*time.Second)
	// Every broker here tells its clients how to connect, after the ready line.
	p.waitFor(t, p.stderr, "notes for clients", 1, hasSubstr("pcrun: broker: clients "), 10*time.Second)
	text := p.stderr.text()
	return ready.FindStringSubmatch(text[strings.Index(text, "pcrun: broker ready"):])[1], text
}

// runSecure runs the pipeline with r's queue settings as a separate
// pcrun process and checks how it ends.
func runSecure(t *testing.T, hostPort string, r secureRun) {
	t.Helper()
	file := writeFile(t, "secure.yaml", fmt.Sprintf(secureYAML, fmt.Sprintf(r.url, hostPort), r.keys))
	cmd := exec.Command(pcrunBinary(t), "run", "--quiet", file)
	cmd.Env = append(os.Environ(), r.env...)
	p := startCommand(t, cmd)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: the run did not end within 60s", r.name)
	}
	stderr := p.stderr.text()
	if p.code != r.code {
		t.Fatalf("%s: exit %d, want %d\n%s", r.name, p.code, r.code, stderr)
	}
	if r.code != exitcode.OK {
		t.Logf("%s: exit %d: %s", r.name, p.code, stderr)
		if !r.message.MatchString(stderr) {
			t.Errorf("%s: stderr does not match %q:\n%s", r.name, r.message, stderr)
		}
		return
	}
	var ate []string
	for _, l := range strings.Split(strings.TrimSpace(p.stdout.text()), "\n") {
		if _, item, ok := strings.Cut(l, " Ate "); ok {
			ate = append(ate, item)
		}
	}
	slices.Sort(ate)
	want := make([]string, 20)
	for i := range want {
		want[i] = fmt.Sprint("item ", i)
	}
	slices.Sort(want)
	if !slices.Equal(ate, want) {
		t.Errorf("%s: eaten %q, want each of the 20 items once", r.name, ate)
	}
}

func TestBrokerToken(t *testing.T) {
	t.Parallel()
	hostPort, notes := startSecureBroker(t, []string{"PCRUN_BROKER_TOKEN=tok-3141"})
	if strings.Contains(notes, "tok-3141") {
		t.Errorf("the broker printed its token:\n%s", notes)
	}
	if !strings.Contains(notes, `url: "nats://${env.PCRUN_BROKER_TOKEN}@`+hostPort+`"`) {
		t.Errorf("the broker does not say how clients give the token:\n%s", notes)
	}
	url := "nats://${env.TOKEN}@%s"
	for _, r := range []secureRun{
		{name: "right token", url: url, env: []string{"TOKEN=tok-3141"}},
		{name: "wrong token", url: url, env: []string{"TOKEN=tok-2718"}, code: exitcode.Failed,
			message: regexp.MustCompile("(?i)authorization violation \\(the broker refused the user and password, or token, in the queue's `url`\\)")},
		{name: "tls without TLS", url: url, keys: ", tls: {}", env: []string{"TOKEN=tok-3141"}, code: exitcode.Failed,
			message: regexp.MustCompile("secure connection not available \\(the broker does not offer TLS: remove the queue's `tls`")},
		{name: "no token", url: "nats://%s", code: exitcode.Failed,
			message: regexp.MustCompile("(?i)authorization violation \\(the broker requires credentials: give them in the queue's `url`")},
	} {
		runSecure(t, hostPort, r)
	}
}

func TestBrokerUserPassword(t *testing.T) {
	t.Parallel()
	hostPort, notes := startSecureBroker(t, []string{"PCRUN_BROKER_PASSWORD=pw-1618"}, "--user", "bob")
	if strings.Contains(notes, "pw-1618") || !strings.Contains(notes, "clients authenticate as bob") || strings.Contains(notes, "warning") {
		t.Errorf("the broker printed its password, a warning, or not who clients authenticate as:\n%s", notes)
	}
	url := "nats://bob:${env.PW}@%s"
	runSecure(t, hostPort, secureRun{name: "right password", url: url, env: []string{"PW=pw-1618"}})
	runSecure(t, hostPort, secureRun{name: "wrong password", url: url, env: []string{"PW=pw-1414"}, code: exitcode.Failed,
		message: regexp.MustCompile(`queue main: cannot connect to the NATS broker at nats://bob:xxxxx@` + regexp.QuoteMeta(hostPort) +
			"(?i): nats: authorization violation \\(the broker refused the user and password, or token, in the queue's `url`\\)")})
}

func TestBrokerTLS(t *testing.T) {
	t.Parallel()
	c := makeCerts(t)
	hostPort, notes := startSecureBroker(t, nil, "--tls-cert", c.serverCert, "--tls-key", c.serverKey)
	if !strings.Contains(notes, "clients connect with TLS") {
		t.Errorf("the broker does not say clients connect with TLS:\n%s", notes)
	}
	for _, r := range []secureRun{
		{name: "ca from env", url: "tls://%s", keys: `, tls: {ca: "${env.CA}"}`, env: []string{"CA=" + c.ca}},
		{name: "nats:// upgraded", url: "nats://%s", keys: ", tls: {ca: " + c.ca + "}"},
		{name: "other ca", url: "tls://%s", keys: ", tls: {ca: " + c.otherCA + "}", code: exitcode.Failed,
			message: regexp.MustCompile("certificate signed by unknown authority \\(the broker's certificate is not signed by the authority of `tls.ca` " +
				regexp.QuoteMeta(c.otherCA) + "\\)")},
		{name: "no tls key", url: "nats://%s", code: exitcode.Failed,
			message: regexp.MustCompile("unknown authority \\(the broker's certificate is not signed by an authority this host trusts: " +
				"name its authority's certificate in the queue's `tls.ca`\\)")},
	} {
		runSecure(t, hostPort, r)
	}
}

func TestBrokerTLSClientCert(t *testing.T) {
	t.Parallel()
	c := makeCerts(t)
	hostPort, _ := startSecureBroker(t, nil, "--tls-cert", c.serverCert, "--tls-key", c.serverKey, "--tls-ca", c.ca)
	for _, r := range []secureRun{
		{name: "client cert", url: "tls://%s", keys: fmt.Sprintf(", tls: {ca: %s, cert: %s, key: %s}", c.ca, c.clientCert, c.clientKey)},
		{name: "no client cert", url: "tls://%s", keys: ", tls: {ca: " + c.ca + "}", code: exitcode.Failed,
			// The broker's refusal arrives as its alert, or as the
			// connection closing before the alert could be read.
			message: regexp.MustCompile("(certificate required \\(the broker requires a client certificate|" +
				"closed by remote after TLS handshake.* \\(the broker closed the connection right after the TLS handshake, " +
				"as one that requires a client certificate does): give `tls.cert` and `tls.key`\\)")},
		{name: "stranger's client cert", url: "tls://%s", keys: fmt.Sprintf(", tls: {ca: %s, cert: %s, key: %s}", c.ca, c.strangerCert, c.strangerKey),
			code: exitcode.Failed,
			// Not one the broker asks for, the certificate is not sent.
			message: regexp.MustCompile("(certificate required \\(the broker requires a client certificate, and the one of `tls.cert` was not sent, " +
				"as it is not one the broker asks for: is it|closed by remote after TLS handshake.* \\(the broker closed the connection right after " +
				"the TLS handshake, as one that refuses the client certificate does: is `tls.cert`) signed by an authority the broker trusts\\?\\)")},
	} {
		runSecure(t, hostPort, r)
	}
}

// TestBrokerAuthUsageErrors are rejected before any server starts.
func TestBrokerAuthUsageErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"broker", "--token", "t", "--user", "u", "--password", "p"}, "--token and --user/--password exclude each other"},
		{[]string{"broker", "--user", "u"}, "--user u without a password"},
		{[]string{"broker", "--password", "p"}, "a password without --user"},
		{[]string{"broker", "--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{[]string{"broker", "--tls-ca", "ca.pem"}, "--tls-ca without --tls-cert"},
		{[]string{"broker", "--tls-cert", missing, "--tls-key", missing}, "--tls-cert: open " + missing + ": no such file"},
	} {
		code, _, stderr := runMain(t, tc.args...)
		if code != exitcode.Usage || !strings.Contains(stderr, tc.want) {
			t.Errorf("pcrun %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(tc.args, " "), code, stderr, tc.want)
		}
	}
}
