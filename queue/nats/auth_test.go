package nats_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/pcrun/pcrun/pipeline"
	natsq "github.com/pcrun/pcrun/queue/nats"
)

// A queue's `nkey` and `credentials` against real servers: one that
// lists nkey users, one that trusts an operator's JWTs (each with
// JetStream for its users); and the messages when the server refuses, or
// the file is not what its key says.

const authYAML = `
name: auth
queues: {main: {backend: nats, url: "${url}", KEYS}}
producers: [{name: p, count: 10, item: "${i}"}]
consumers: [{name: c, do: [print: "${worker} Ate ${item}"]}]
`

// startAuthServer starts a JetStream server with o's authentication.
func startAuthServer(t *testing.T, o *server.Options) string {
	t.Helper()
	o.Host, o.Port, o.JetStream, o.StoreDir, o.NoLog, o.NoSigs = "127.0.0.1", -1, true, t.TempDir(), true, true
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready after 10s")
	}
	return s.ClientURL()
}

// writeTemp writes content into a file of a temporary directory.
func writeTemp(t *testing.T, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// newUser makes a user's key pair, with its public key and seed.
func newUser(t *testing.T) (kp nkeys.KeyPair, pub string, seed []byte) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	if pub, err = kp.PublicKey(); err != nil {
		t.Fatal(err)
	}
	if seed, err = kp.Seed(); err != nil {
		t.Fatal(err)
	}
	return kp, pub, seed
}

// runAuth runs the pipeline with keys on the queue against url.
func runAuth(t *testing.T, url, keys string) natsOutcome {
	t.Helper()
	return runNats(t, strings.Replace(authYAML, "KEYS", keys, 1), url, pipeline.Options{})
}

// checkAllEaten fails t unless the run ate the ten items.
func checkAllEaten(t *testing.T, o natsOutcome) {
	t.Helper()
	if o.err != nil {
		t.Fatalf("err = %v\n%s", o.err, o.stderr)
	}
	want := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	if got := eaten(o.stdout); !slices.Equal(got, want) {
		t.Errorf("eaten %v, want %v", got, want)
	}
}

// checkErr fails t unless the run failed with an error holding each of
// wants.
func checkErr(t *testing.T, o natsOutcome, wants ...string) {
	t.Helper()
	if o.err == nil {
		t.Fatalf("the run succeeded; want an error with %q", wants)
	}
	for _, w := range wants {
		if !strings.Contains(o.err.Error(), w) {
			t.Errorf("err = %v\nwant it to say %q", o.err, w)
		}
	}
}

func TestNatsNkey(t *testing.T) {
	_, pub, seed := newUser(t)
	url := startAuthServer(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	file := writeTemp(t, "user.nk", seed)
	checkAllEaten(t, runAuth(t, url, "nkey: "+file))

	_, _, stranger := newUser(t)
	other := writeTemp(t, "stranger.nk", stranger)
	checkErr(t, runAuth(t, url, "nkey: "+other), "Authorization Violation", "(the broker refused the nkey of `nkey` "+other+")")
	checkErr(t, runAuth(t, url, "nkey: "+writeTemp(t, "junk.nk", []byte("not a seed\n"))), "queue main: cannot connect", "nkey ", "junk.nk: ")

	st := natsq.Statuses(t.Context(), "auth", compile(t, strings.ReplaceAll(strings.Replace(authYAML, "KEYS", "nkey: "+other, 1), "${url}", url)).Queues, 5*time.Second)
	if len(st) != 1 || !strings.Contains(st[0].Error, "(the broker refused the nkey of `nkey` "+other+")") {
		t.Errorf("status with an unknown nkey: %+v", st)
	}
}

// TestNatsCredentials: a server in operator mode, an account with
// JetStream, and a user's .creds file as `nsc generate creds` writes it.
func TestNatsCredentials(t *testing.T) {
	okp, err := nkeys.CreateOperator()
	if err != nil {
		t.Fatal(err)
	}
	opub, _ := okp.PublicKey()
	ojwt, err := jwt.NewOperatorClaims(opub).Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	oclaims, err := jwt.DecodeOperatorClaims(ojwt)
	if err != nil {
		t.Fatal(err)
	}
	akp, _ := nkeys.CreateAccount()
	apub, _ := akp.PublicKey()
	ac := jwt.NewAccountClaims(apub)
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	ajwt, err := ac.Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	resolver := &server.MemAccResolver{}
	if err := resolver.Store(apub, ajwt); err != nil {
		t.Fatal(err)
	}
	// JetStream in operator mode needs a system account.
	skp, _ := nkeys.CreateAccount()
	spub, _ := skp.PublicKey()
	sysjwt, err := jwt.NewAccountClaims(spub).Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	if err := resolver.Store(spub, sysjwt); err != nil {
		t.Fatal(err)
	}
	url := startAuthServer(t, &server.Options{TrustedOperators: []*jwt.OperatorClaims{oclaims}, AccountResolver: resolver, SystemAccount: spub})

	_, upub, useed := newUser(t)
	ujwt, err := jwt.NewUserClaims(upub).Encode(akp)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := jwt.FormatUserConfig(ujwt, useed)
	if err != nil {
		t.Fatal(err)
	}
	checkAllEaten(t, runAuth(t, url, "credentials: "+writeTemp(t, "user.creds", creds)))

	// A user signed by an account the server does not know.
	stranger, _ := nkeys.CreateAccount()
	sjwt, err := jwt.NewUserClaims(upub).Encode(stranger)
	if err != nil {
		t.Fatal(err)
	}
	screds, _ := jwt.FormatUserConfig(sjwt, useed)
	file := writeTemp(t, "stranger.creds", screds)
	checkErr(t, runAuth(t, url, "credentials: "+file), "(the broker refused the user of `credentials` "+file+")")

	junk := writeTemp(t, "junk.creds", []byte("user=bob\n"))
	checkErr(t, runAuth(t, url, "credentials: "+junk), "credentials "+junk+": not a credentials file", "nsc generate creds")
}

// TestNatsPermissions: a user the broker does not allow JetStream is told
// so, naming the broker's permissions, not its credentials. The request
// the broker refuses is never answered: the run's context has no
// deadline, as in `pcrun run`, and JetStream's own timeout ends it.
func TestNatsPermissions(t *testing.T) {
	url := startAuthServer(t, &server.Options{Users: []*server.User{{Username: "bob", Password: "pw",
		Permissions: &server.Permissions{Publish: &server.SubjectPermission{Deny: []string{"$JS.API.>"}}}}}})
	g := compile(t, strings.ReplaceAll(strings.Replace(authYAML, "KEYS", "ack_wait: 30s", 1), "${url}", strings.Replace(url, "nats://", "nats://bob:pw@", 1)))
	var out, errb bytes.Buffer
	_, err := pipeline.Run(t.Context(), g, pipeline.Options{Stdout: &out, Stderr: &errb})
	checkErr(t, natsOutcome{err: err}, "nats: permissions violation: Permissions Violation for Publish to \"$JS.API.",
		"(the broker's permissions do not let this user use JetStream and the pipeline's bucket)")
}
