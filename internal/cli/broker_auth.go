package cli

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	natsq "github.com/pcrun/pcrun/queue/nats"
)

// The broker's authentication and TLS: its flags, their checks, and what
// the ready line tells clients. Secrets can come from the environment, so
// that they need not appear in the process list.

func brokerAuthFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "token", EnvVars: []string{"PCRUN_BROKER_TOKEN"},
			Usage: "clients must give `TOKEN` (url nats://TOKEN@HOST:PORT); prefer the environment variable: a flag shows in the process list"},
		&cli.StringFlag{Name: "user", EnvVars: []string{"PCRUN_BROKER_USER"},
			Usage: "clients must authenticate as `NAME` with --password (url nats://NAME:PASSWORD@HOST:PORT)"},
		&cli.StringFlag{Name: "password", EnvVars: []string{"PCRUN_BROKER_PASSWORD"},
			Usage: "the `PASSWORD` of --user; prefer the environment variable: a flag shows in the process list"},
		&cli.StringFlag{Name: "tls-cert", Usage: "serve TLS with the certificate in `FILE` (PEM); clients check it with the queue key tls.ca"},
		&cli.StringFlag{Name: "tls-key", Usage: "the private key of --tls-cert, in `FILE` (PEM)"},
		&cli.StringFlag{Name: "tls-ca", Usage: "require client certificates signed by an authority in `FILE` (PEM); clients give tls.cert and tls.key"},
	}
}

// brokerAuth reads and checks the authentication and TLS flags into c.
func brokerAuth(ctx *cli.Context, c *natsq.ServerConfig) error {
	c.Token, c.User, c.Password = ctx.String("token"), ctx.String("user"), ctx.String("password")
	c.TLSCert, c.TLSKey, c.TLSCA = ctx.String("tls-cert"), ctx.String("tls-key"), ctx.String("tls-ca")
	switch {
	case c.Token != "" && (c.User != "" || c.Password != ""):
		return usagef("pcrun: error: --token and --user/--password exclude each other\n" +
			"hint: give a token, or a user and a password (check PCRUN_BROKER_TOKEN, PCRUN_BROKER_USER and PCRUN_BROKER_PASSWORD in the environment)")
	case c.User != "" && c.Password == "":
		return usagef("pcrun: error: --user %s without a password\nhint: give it in PCRUN_BROKER_PASSWORD (or --password)", c.User)
	case c.Password != "" && c.User == "":
		return usagef("pcrun: error: a password without --user\nhint: name the user with --user (or PCRUN_BROKER_USER)")
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return usagef("pcrun: error: --tls-cert and --tls-key go together\nhint: give the broker's certificate and its private key")
	case c.TLSCA != "" && c.TLSCert == "":
		return usagef("pcrun: error: --tls-ca without --tls-cert\nhint: a broker that checks its clients' certificates serves TLS itself: add --tls-cert and --tls-key")
	}
	for _, f := range []struct{ flag, path string }{{"tls-cert", c.TLSCert}, {"tls-key", c.TLSKey}, {"tls-ca", c.TLSCA}} {
		if f.path == "" {
			continue
		}
		if _, err := os.ReadFile(f.path); err != nil {
			return usagef("pcrun: error: --%s: %v\nhint: give a readable PEM file", f.flag, err)
		}
	}
	return nil
}

// brokerClientNotes tells the clients of a ready broker how to connect:
// the url their queues give (without the secret) and the keys TLS needs,
// and warns of a broker anyone on the network may use.
func brokerClientNotes(w io.Writer, c natsq.ServerConfig, clientURL string) {
	host := clientURL
	if u, err := url.Parse(clientURL); err == nil {
		host = u.Host
		if ip := net.ParseIP(c.Host); ip != nil && ip.IsUnspecified() {
			host = net.JoinHostPort("THIS-HOST", u.Port())
		}
	}
	scheme := "nats"
	if c.TLSCert != "" {
		scheme = "tls"
	}
	switch {
	case c.Token != "":
		fmt.Fprintf(w, "pcrun: broker: clients give the token, e.g. url: \"%s://${env.PCRUN_BROKER_TOKEN}@%s\"\n", scheme, host)
	case c.User != "":
		fmt.Fprintf(w, "pcrun: broker: clients authenticate as %s, e.g. url: \"%s://%s:${env.PCRUN_BROKER_PASSWORD}@%s\"\n",
			c.User, scheme, url.User(c.User).String(), host)
	case c.TLSCA == "":
		if ip := net.ParseIP(c.Host); ip == nil || !ip.IsLoopback() {
			fmt.Fprintln(w, "pcrun: broker: warning: no authentication, and not on loopback: whoever reaches the port may use the broker "+
				"(add --token, or --user and --password)")
		}
	}
	if c.TLSCert != "" {
		keys := "tls: {ca: FILE}, with FILE the authority of --tls-cert (unless this host trusts it already)"
		if c.TLSCA != "" {
			keys = "tls: {ca: FILE, cert: FILE, key: FILE}, with a client certificate signed by an authority of --tls-ca"
		}
		fmt.Fprintln(w, "pcrun: broker: clients connect with TLS: queues say "+strings.TrimSpace(keys))
	}
}
