package nats

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/pcrun/pcrun/stages"
)

// How a connection to a broker authenticates and checks the broker: the
// files a queue's `credentials`, `nkey` and `tls` name (stages.NATSAuth),
// read here once per connection, so that a bad file is named by its key
// before anything is sent; and what an error of the connection means.

// dial connects to the broker at url as a says, with extra options.
// Its error ends with a hint when the cause is known (connectHint).
func dial(url string, a stages.NATSAuth, extra ...nats.Option) (*nats.Conn, error) {
	opts, err := authOptions(a)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(url, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("%w%s", err, connectHint(err, url, a))
	}
	return nc, nil
}

// authOptions reads the files of a and returns the options that present
// them. Its errors name the key whose file is wrong.
func authOptions(a stages.NATSAuth) ([]nats.Option, error) {
	var opts []nats.Option
	if a.Credentials != "" {
		b, err := os.ReadFile(a.Credentials)
		if err != nil {
			return nil, fmt.Errorf("credentials: %v", err)
		}
		jwt, seed, err := parseCreds(b)
		if err != nil {
			return nil, fmt.Errorf("credentials %s: %v (write it with `nsc generate creds`)", a.Credentials, err)
		}
		opts = append(opts, nats.UserJWTAndSeed(jwt, seed))
	}
	if a.NKey != "" {
		if _, err := os.ReadFile(a.NKey); err != nil {
			return nil, fmt.Errorf("nkey: %v", err)
		}
		o, err := nats.NkeyOptionFromSeed(a.NKey)
		if err != nil {
			return nil, fmt.Errorf("nkey %s: %v (the file holds a user's seed, SU..., as `nk -gen user` writes it)", a.NKey, err)
		}
		opts = append(opts, o)
	}
	if a.TLS {
		cfg, err := tlsConfig(a)
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.Secure(cfg))
	}
	return opts, nil
}

// parseCreds parses a .creds file: a user's JWT and nkey seed, each
// between its BEGIN and END lines.
func parseCreds(b []byte) (jwt, seed string, err error) {
	jwt, err = nkeys.ParseDecoratedJWT(b)
	switch {
	case err != nil:
		return "", "", fmt.Errorf("no user JWT in it: %v", err)
	case jwt == string(b): // no BEGIN and END lines at all
		return "", "", errors.New("not a credentials file (it has no -----BEGIN NATS USER JWT----- section)")
	}
	kp, err := nkeys.ParseDecoratedNKey(b)
	if err != nil {
		return "", "", fmt.Errorf("no nkey seed in it: %v", err)
	}
	defer kp.Wipe()
	s, err := kp.Seed()
	if err != nil {
		return "", "", fmt.Errorf("no nkey seed in it: %v", err)
	}
	return jwt, string(s), nil
}

// tlsConfig is the client's TLS configuration: the authorities of tls.ca
// (else the system's) and the certificate of tls.cert and tls.key.
func tlsConfig(a stages.NATSAuth) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if a.CA != "" {
		pem, err := os.ReadFile(a.CA)
		if err != nil {
			return nil, fmt.Errorf("tls.ca: %v", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca %s: no PEM certificate in it", a.CA)
		}
	}
	if a.Cert != "" {
		cert, err := tls.LoadX509KeyPair(a.Cert, a.Key)
		if err != nil {
			return nil, fmt.Errorf("tls.cert %s and tls.key %s: %v", a.Cert, a.Key, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// connectHint says, for the connection errors whose cause is known, what
// to do about it, naming the keys that supply what is missing or wrong:
// "" for the others (a guess would mislead).
func connectHint(err error, urls string, a stages.NATSAuth) string {
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.Is(err, nats.ErrNoServers):
		return " (nothing listens there: start a broker with `pcrun broker`, or check the queue's `url`)"
	case errors.Is(err, nats.ErrAuthorization):
		return " (" + authorizationHint(urls, a) + ")"
	case errors.Is(err, nats.ErrAuthExpired):
		return " (the credentials have expired: renew the file of `credentials`)"
	case errors.Is(err, nats.ErrSecureConnWanted):
		return " (the broker does not offer TLS: remove the queue's `tls` and use a nats:// url, or start the broker with --tls-cert and --tls-key)"
	case errors.As(err, &unknownCA):
		if a.CA != "" {
			return " (the broker's certificate is not signed by the authority of `tls.ca` " + a.CA + ")"
		}
		return " (the broker's certificate is not signed by an authority this host trusts: name its authority's certificate in the queue's `tls.ca`)"
	case errors.As(err, &badHost):
		return " (the broker's certificate is not for the host in the queue's `url`: connect by a name the certificate has)"
	case errors.As(err, &invalid):
		return " (the broker's certificate is not valid: it has expired, or cannot serve a TLS server)"
	case strings.Contains(err.Error(), "tls: certificate required") && a.Cert == "":
		return " (the broker requires a client certificate: give `tls.cert` and `tls.key`)"
	case strings.Contains(err.Error(), "tls: certificate required"):
		// A client sends its certificate only when it is one the broker
		// asks for, by the authorities it names.
		return " (the broker requires a client certificate, and the one of `tls.cert` was not sent, as it is not one the broker asks for: " +
			"is it signed by an authority the broker trusts?)"
	case strings.Contains(err.Error(), "tls: unknown certificate authority"), strings.Contains(err.Error(), "tls: bad certificate"):
		return " (the broker does not accept the client certificate of `tls.cert`: it is not signed by an authority the broker trusts)"
	case errors.Is(err, nats.ErrTLS) && strings.Contains(err.Error(), "closed by remote after TLS handshake"):
		// With TLS 1.3 the client's handshake ends before the broker has
		// checked its certificate: the broker's refusal may arrive as
		// the connection closing, before its alert can be read.
		if a.Cert == "" {
			return " (the broker closed the connection right after the TLS handshake, as one that requires a client certificate does: give `tls.cert` and `tls.key`)"
		}
		return " (the broker closed the connection right after the TLS handshake, as one that refuses the client certificate does: " +
			"is `tls.cert` signed by an authority the broker trusts?)"
	}
	return ""
}

// authorizationHint names what the broker refused, or says what it
// wants when nothing was given.
func authorizationHint(urls string, a stages.NATSAuth) string {
	switch {
	case a.Credentials != "":
		return "the broker refused the user of `credentials` " + a.Credentials
	case a.NKey != "":
		return "the broker refused the nkey of `nkey` " + a.NKey
	case hasUserInfo(urls):
		return "the broker refused the user and password, or token, in the queue's `url`"
	case a.Cert != "":
		return "the broker refused the client certificate of `tls.cert` " + a.Cert + " as a user"
	}
	return "the broker requires credentials: give them in the queue's `url` " +
		"(\"nats://${env.NATS_USER}:${env.NATS_PASSWORD}@HOST:PORT\", or \"nats://${env.NATS_TOKEN}@HOST:PORT\"), " +
		"or with `credentials` or `nkey`"
}

// hasUserInfo reports whether a URL of urls carries a user or a token.
func hasUserInfo(urls string) bool {
	for _, one := range strings.Split(urls, ",") {
		if u, err := url.Parse(strings.TrimSpace(one)); err == nil && u.User != nil {
			return true
		}
	}
	return false
}

// asyncCause returns what the broker said of a request that err says
// timed out: a request the user may not publish is never answered, and
// the broker reports the permissions violation to the connection only.
func asyncCause(nc *nats.Conn, err error) error {
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) {
		return err
	}
	if last := nc.LastError(); errors.Is(last, nats.ErrPermissionViolation) {
		return last
	}
	return err
}
