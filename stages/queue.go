package stages

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/pcrun/pcrun/config"
)

// QueueEnv is what a queue's `url` template sees: vars, and the
// environment as `env`.
type QueueEnv struct {
	Env map[string]string `expr:"env"`
}

var queueNames = []string{"env"}

// queue compiles a queue's settings. A NATS queue's url is evaluated here,
// once, with the environment the stages see; its stream and subject are
// derived from the pipeline and queue names unless the file gives them.
func (c *compiler) queue(pl *config.Pipeline, q *config.Queue) *Queue {
	out := &Queue{Name: q.Name, Capacity: q.Capacity, Unbounded: q.Unbounded}
	if q.Backend != config.NATS {
		return out
	}
	out.Backend = config.NATS
	out.Stream, out.Subject = q.Stream, q.Subject
	if out.Stream == "" {
		out.Stream = "PCRUN_" + token(pl.Name) + "_" + token(q.Name)
	}
	if out.Subject == "" {
		out.Subject = "pcrun." + token(pl.Name) + "." + token(q.Name)
	}
	out.MaxDeliver, out.AckWait = q.MaxDeliver, q.AckWait
	out.Replicas, out.Storage = q.Replicas, q.Storage
	if out.MaxDeliver == 0 {
		out.MaxDeliver = config.DefaultMaxDeliver
	}
	if out.AckWait == 0 {
		out.AckWait = config.DefaultAckWait
	}
	out.URL = config.DefaultNatsURL
	if q.URL != nil {
		out.URL = c.natsURL(q.URL)
	}
	out.Auth = c.auth(q)
	return out
}

// natsURL evaluates a url template and checks every URL in it (a
// comma-separated list) is nats:// or tls://.
func (c *compiler) natsURL(v *config.Value) string {
	x, pos, msg, ok := c.evalOnce(v, "")
	if !ok {
		if msg != "" {
			c.diags.Errorf(pos, config.CodeURL, "", "url: %s", msg)
		}
		return ""
	}
	s := Format(x)
	for _, one := range strings.Split(s, ",") {
		one = strings.TrimSpace(one)
		u, err := url.Parse(one)
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			c.diags.Errorf(v.Pos, config.CodeURL, "write nats://HOST:PORT (or tls://HOST:PORT), several separated by commas, e.g. nats://127.0.0.1:4222",
				"url %q is not a NATS URL", Redacted(one))
			return ""
		}
	}
	return s
}

// Redacted hides the password (or token) in a URL list, for messages.
func Redacted(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
			if _, has := u.User.Password(); !has {
				u.User = url.User("xxxxx") // a token alone
				parts[i] = u.String()
			}
		}
	}
	return strings.Join(parts, ",")
}

var notToken = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// token makes a name fit a stream name or a subject token.
func token(name string) string { return notToken.ReplaceAllString(name, "_") }

// checkStreams reports NATS queues of one file sharing a stream or a
// subject: a work-queue stream has one consumer, and one subject one stream.
func (c *compiler) checkStreams(g *Graph, pl *config.Pipeline) {
	streams, subjects := map[string]string{}, map[string]string{}
	for i, q := range g.Queues {
		if q.Backend != config.NATS {
			continue
		}
		spec := pl.Queues[i]
		if other, ok := streams[q.Stream]; ok {
			c.diags.Errorf(spec.StreamPos.Or(spec.Pos), config.CodeConflict, "give each NATS queue its own `stream`",
				"queues `%s` and `%s` both use stream %q", other, q.Name, q.Stream)
		}
		if other, ok := subjects[q.Subject]; ok {
			c.diags.Errorf(spec.SubjectPos.Or(spec.Pos), config.CodeConflict, "give each NATS queue its own `subject`",
				"queues `%s` and `%s` both use subject %q", other, q.Name, q.Subject)
		}
		streams[q.Stream], subjects[q.Subject] = q.Name, q.Name
	}
}
