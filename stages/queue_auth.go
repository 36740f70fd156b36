package stages

import (
	"fmt"
	"os"

	"github.com/pcrun/pcrun/config"
)

// NATSAuth is how a NATS queue's connection proves who it is and checks
// the broker it reaches: the files the queue's `credentials`, `nkey` and
// `tls` name, evaluated and resolved beside the pipeline file ("": not
// given). It is comparable: the queues of one broker URL share one
// connection, and so one NATSAuth (checkAuth).
type NATSAuth struct {
	Credentials string // a .creds file
	NKey        string // a file holding an nkey seed
	TLS         bool   // the file has `tls`: connect with TLS
	CA          string // the authorities of the broker's certificate; "": the system's
	Cert, Key   string // the client certificate and its key
}

// authHint follows every error about a file of a queue's connection.
const authHint = "it is evaluated once, before the run, with vars and env; a relative path is relative to the pipeline file's directory"

// auth evaluates the file names of a queue's connection and checks that
// each names a readable file.
func (c *compiler) auth(q *config.Queue) NATSAuth {
	var a NATSAuth
	a.Credentials = c.authFile(q.Credentials, "credentials")
	a.NKey = c.authFile(q.NKey, "nkey")
	if t := q.TLS; t != nil {
		a.TLS = true
		a.CA = c.authFile(t.CA, "tls.ca")
		a.Cert = c.authFile(t.Cert, "tls.cert")
		a.Key = c.authFile(t.Key, "tls.key")
	}
	return a
}

// authFile evaluates a file name and checks the file can be read. It
// returns "" for a nil v, or after reporting a diagnostic.
func (c *compiler) authFile(v *config.Value, key string) string {
	if v == nil {
		return ""
	}
	x, pos, msg, ok := c.evalOnce(v, "`"+key+"` is evaluated once, before the run: it sees vars and `env`, not `item`")
	if !ok {
		if msg != "" {
			c.diags.Errorf(pos, config.CodeType, authHint, "%s: %s", key, msg)
		}
		return ""
	}
	name := ""
	if x != nil {
		name = Format(x)
	}
	if name == "" {
		c.diags.Errorf(v.Pos, config.CodeURL, "is what it reads set? "+authHint, "%s: %q gives an empty file name", key, v.Text.Value)
		return ""
	}
	path := besideFile(c.file, name)
	if err := readable(path); err != nil {
		c.diags.Errorf(v.Pos, config.CodeURL, authHint, "%s: %v", key, err)
		return ""
	}
	return path
}

// readable reports why path is not a regular file this process can open.
func readable(path string) error {
	fi, err := os.Stat(path)
	switch {
	case os.IsNotExist(err):
		return fmt.Errorf("no file %s", path)
	case err != nil:
		return fmt.Errorf("cannot read %s: %v", path, unwrapPath(err))
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot read %s: %v", path, unwrapPath(err))
	}
	return f.Close()
}

// unwrapPath drops the operation and path of an *os.PathError, which the
// message names already.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// checkAuth reports NATS queues of one broker URL that connect
// differently: a process has one connection per broker URL, so they
// would have to share one identity, and which would be a guess.
func (c *compiler) checkAuth(g *Graph, pl *config.Pipeline) {
	first := map[string]*Queue{}
	for i, q := range g.Queues {
		if q.Backend != config.NATS || q.URL == "" {
			continue
		}
		other, ok := first[q.URL]
		if !ok {
			first[q.URL] = q
			continue
		}
		if other.Auth != q.Auth {
			c.diags.Errorf(pl.Queues[i].Pos, config.CodeConflict,
				"queues on one broker share one connection: give them the same credentials, nkey and tls",
				"queues `%s` and `%s` use one broker (%s) but connect to it differently", other.Name, q.Name, Redacted(q.URL))
		}
	}
}
