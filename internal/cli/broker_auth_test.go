package cli

import (
	"strings"
	"testing"

	natsq "github.com/pcrun/pcrun/queue/nats"
)

// brokerClientNotes tells clients how to give their credentials, never
// the secret, and warns of a broker open to the network without any.
func TestBrokerClientNotes(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  natsq.ServerConfig
		url  string
		want []string // each in the notes, in order; nil: no notes
	}{
		{"loopback, open", natsq.ServerConfig{Host: "127.0.0.1"}, "nats://127.0.0.1:4222", nil},
		{"every interface, open", natsq.ServerConfig{Host: "0.0.0.0"}, "nats://0.0.0.0:4222",
			[]string{"warning: no authentication, and not on loopback", "--token, or --user and --password"}},
		{"token", natsq.ServerConfig{Host: "127.0.0.1", Token: "s3cret"}, "nats://127.0.0.1:4222",
			[]string{`url: "nats://${env.PCRUN_BROKER_TOKEN}@127.0.0.1:4222"`}},
		{"user on every interface", natsq.ServerConfig{Host: "0.0.0.0", User: "a b", Password: "s3cret"}, "nats://0.0.0.0:4222",
			[]string{`clients authenticate as a b, e.g. url: "nats://a%20b:${env.PCRUN_BROKER_PASSWORD}@THIS-HOST:4222"`}},
		{"tls", natsq.ServerConfig{Host: "127.0.0.1", Token: "s3cret", TLSCert: "c", TLSKey: "k"}, "tls://127.0.0.1:4222",
			[]string{`url: "tls://${env.PCRUN_BROKER_TOKEN}@127.0.0.1:4222"`, "queues say tls: {ca: FILE}"}},
		{"client certificates", natsq.ServerConfig{Host: "10.0.0.1", TLSCert: "c", TLSKey: "k", TLSCA: "ca"}, "tls://10.0.0.1:4222",
			[]string{"queues say tls: {ca: FILE, cert: FILE, key: FILE}"}},
	} {
		var b strings.Builder
		brokerClientNotes(&b, tc.cfg, tc.url)
		notes := b.String()
		if strings.Contains(notes, "s3cret") {
			t.Errorf("%s: the notes show the secret:\n%s", tc.name, notes)
		}
		if tc.want == nil && notes != "" {
			t.Errorf("%s: notes %q, want none", tc.name, notes)
		}
		rest := notes
		for _, w := range tc.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("%s: notes lack %q (in order):\n%s", tc.name, w, notes)
				break
			}
			rest = rest[i+len(w):]
		}
	}
}
