package config

import "gopkg.in/yaml.v3"

// The keys by which a NATS queue's connection proves who it is
// (`credentials`, `nkey`, the client certificate of `tls`) and checks that
// the broker is the one meant (`tls.ca`). A user and password, or a
// token, go in the `url`. Each value is the name of a file, a template of
// vars and `env` that stages evaluate once and check is readable: the
// file may then differ from host to host, and secrets stay out of the
// pipeline file.

// pathDoc ends the description of every key naming a file.
const pathDoc = " A template evaluated once before the run, with vars and `env` (e.g. \"${env.NATS_CREDS}\"); " +
	"a relative path is relative to the pipeline file's directory."

func (p *parser) credentialsField(q *Queue) field {
	return field{name: "credentials",
		doc: "NATS only: a credentials file (.creds, as `nsc` writes it: a user's JWT and nkey seed) " +
			"the connection authenticates with. Excludes `nkey`." + pathDoc,
		schema: func() *Schema { return &Schema{Type: "string"} },
		parse:  func(_, v *yaml.Node) { q.Credentials = p.pathTemplate(v, "credentials", "credentials: nats.creds") }}
}

func (p *parser) nkeyField(q *Queue) field {
	return field{name: "nkey",
		doc: "NATS only: a file holding a user's nkey seed (SU...), for a broker that authenticates users by nkey. " +
			"Excludes `credentials`." + pathDoc,
		schema: func() *Schema { return &Schema{Type: "string"} },
		parse:  func(_, v *yaml.Node) { q.NKey = p.pathTemplate(v, "nkey", "nkey: user.nk") }}
}

func (p *parser) tlsField(q *Queue) field {
	return field{name: "tls",
		doc: "NATS only: connect with TLS. `ca`: the PEM file of the authorities the broker's certificate must come from " +
			"(default: the system's); `cert` and `key`: this client's certificate and private key, for a broker that " +
			"requires client certificates. `tls: {}` requires TLS with the system's authorities. Each value is a file name:" + pathDoc,
		schema: func() *Schema { return object(p.tlsFields(&TLS{})) },
		parse: func(_, v *yaml.Node) {
			t := &TLS{Pos: p.pos(v)}
			if p.mapping(v, "tls", p.tlsFields(t)) {
				q.TLS = t
			}
		}}
}

// tlsFields is the table of a NATS queue's `tls`.
func (p *parser) tlsFields(t *TLS) []field {
	file := func(name, doc, example string, dst **Value) field {
		return field{name: name, doc: doc, schema: func() *Schema { return &Schema{Type: "string"} },
			parse: func(_, v *yaml.Node) { *dst = p.pathTemplate(v, "tls."+name, example) }}
	}
	return []field{
		file("ca", "The PEM file of the certificate authorities the broker's certificate must come from. Default: the system's.",
			"ca: ca.pem", &t.CA),
		file("cert", "This client's certificate (PEM), for a broker that requires client certificates; given with `key`.",
			"cert: client.pem", &t.Cert),
		file("key", "The private key (PEM) of `cert`.", "key: client-key.pem", &t.Key),
	}
}

// pathTemplate reads a file name: a string, a template that stages
// evaluate.
func (p *parser) pathTemplate(v *yaml.Node, what, example string) *Value {
	if r := resolve(v); r.Kind != yaml.ScalarNode || r.ShortTag() != "!!str" || r.Value == "" {
		p.diags.Errorf(p.pos(v), CodeType, "write the name of a file, e.g. "+example,
			"%s must be the name of a file, not %s", what, describe(r))
		return nil
	}
	return p.value(v, what)
}

// checkNATSAuth reports the keys of q's connection that contradict each
// other, or are incomplete.
func (p *parser) checkNATSAuth(q *Queue) {
	if q.Credentials != nil && q.NKey != nil {
		p.diags.Errorf(q.NKey.Pos, CodeConflict,
			"a .creds file holds a user's JWT and its nkey seed: give `credentials` for a broker with JWT accounts, `nkey` for one that lists nkey users",
			"queue `%s` gives both `credentials` and `nkey`", q.Name)
	}
	t := q.TLS
	if t == nil {
		return
	}
	switch {
	case t.Cert != nil && t.Key == nil:
		p.diags.Errorf(t.Cert.Pos, CodeMissing, "add `key:` with the file of the certificate's private key",
			"tls of queue `%s` has `cert` but no `key`", q.Name)
	case t.Key != nil && t.Cert == nil:
		p.diags.Errorf(t.Key.Pos, CodeMissing, "add `cert:` with the file of the client certificate, or remove `key`",
			"tls of queue `%s` has `key` but no `cert`", q.Name)
	}
}
