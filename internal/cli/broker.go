package cli

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	natsq "github.com/pcrun/pcrun/queue/nats"
)

func brokerCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "broker",
		Usage: "run an embedded NATS server with JetStream for queues with `backend: nats`",
		Description: "Listens on loopback by default: use --host 0.0.0.0 (or an address of this host)\n" +
			"so that other hosts can connect. Prints the client URL on stderr once ready and\n" +
			"runs until SIGINT or SIGTERM, then shuts down cleanly and exits 0. Exit 2 when\n" +
			"the server cannot start (the port is in use, the store directory is unusable).\n\n" +
			"With --token, or --user and --password, clients must authenticate (queues give the\n" +
			"secret in their url, e.g. url: \"nats://${env.PCRUN_BROKER_TOKEN}@HOST:4222\"); with\n" +
			"--tls-cert and --tls-key they connect with TLS (queue key tls.ca), and with --tls-ca\n" +
			"they must present a certificate (queue keys tls.cert and tls.key).",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "host", Value: "127.0.0.1", Usage: "listen on `ADDRESS` (0.0.0.0: every interface)"},
			&cli.IntFlag{Name: "port", Value: 4222, Usage: "listen on `PORT`; 0 picks a free port (the ready line says which)"},
			&cli.StringFlag{Name: "store-dir", Usage: "keep JetStream streams in `DIR` (default: pcrun/broker under the user cache directory)"},
			&cli.BoolFlag{Name: "memory", Usage: "keep nothing after exit: streams live in a temporary directory removed at shutdown"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log the server's notices to stderr"},
		}, brokerAuthFlags()...),
		Action: func(c *cli.Context) error { return brokerAction(c, e) }, OnUsageError: onUsageError,
	}
}

// brokerAction runs the embedded server until a signal.
func brokerAction(c *cli.Context, e *env) error {
	stderr := c.App.ErrWriter
	host, port := c.String("host"), c.Int("port")
	if err := brokerArgs(c, port); err != nil {
		return err
	}
	cfg := natsq.ServerConfig{Host: host, Port: port, Log: stderr, Verbose: c.Bool("verbose")}
	if err := brokerAuth(c, &cfg); err != nil {
		return err
	}
	dir, note, cleanup, err := brokerStore(c.String("store-dir"), c.Bool("memory"))
	if err != nil {
		return usagef("pcrun: error: %v", err)
	}
	defer cleanup()
	cfg.StoreDir = dir
	b, err := natsq.StartServer(cfg)
	var se *natsq.StartError
	switch {
	case errors.As(err, &se):
		return usage(brokerStartMessage(se.Msg, host, port))
	case err != nil:
		return usagef("pcrun: error: broker: %v", err)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		note += "; listening on every interface: clients use " + strings.SplitN(b.URL(), ":", 2)[0] + "://THIS-HOST:" + fmt.Sprint(b.Port())
	}
	fmt.Fprintf(stderr, "pcrun: broker ready at %s; store %s\n", b.URL(), note)
	brokerClientNotes(stderr, cfg, b.URL())
	<-e.signals
	fmt.Fprintln(stderr, "pcrun: broker: signal received, shutting down")
	b.Stop()
	fmt.Fprintln(stderr, "pcrun: broker stopped")
	return nil
}

// brokerArgs checks broker's arguments and flags before anything starts.
func brokerArgs(c *cli.Context, port int) error {
	if c.NArg() > 0 {
		return usagef("pcrun: error: unexpected argument %q\nhint: pcrun broker [--host ADDRESS] [--port PORT] [--store-dir DIR | --memory] [--token T | --user U --password P] [--tls-cert F --tls-key F [--tls-ca F]]", c.Args().First())
	}
	if port < 0 || port > 65535 {
		return usagef("pcrun: error: --port %d: not a TCP port\nhint: use 1 to 65535, or 0 for a free port", port)
	}
	if c.Bool("memory") && c.IsSet("store-dir") {
		return usagef("pcrun: error: --memory and --store-dir exclude each other\nhint: --memory keeps nothing after exit; --store-dir DIR keeps streams in DIR")
	}
	return nil
}

// brokerStartMessage explains why the server did not start.
func brokerStartMessage(msg, host string, port int) string {
	hint := "run with --verbose to see the server's log"
	if strings.Contains(msg, "address already in use") {
		hint = fmt.Sprintf("another broker or nats-server is listening on %s; stop it, or use --port 0 for a free port", net.JoinHostPort(host, fmt.Sprint(port)))
	}
	return "pcrun: error: broker: " + msg + "\nhint: " + hint
}

// brokerStore returns the store directory to give the server, how the
// ready line describes it, and what to do at exit. With memory, it is a
// temporary directory removed at exit: JetStream always needs one, and
// streams declared with file storage then still work, but nothing is
// kept.
func brokerStore(dir string, memory bool) (string, string, func(), error) {
	if memory {
		tmp, err := os.MkdirTemp("", "pcrun-broker-")
		if err != nil {
			return "", "", nil, fmt.Errorf("cannot create a temporary store directory: %v", err)
		}
		return tmp, tmp + " (temporary, removed at exit)", func() { os.RemoveAll(tmp) }, nil
	}
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", "", nil, fmt.Errorf("no user cache directory for the broker's store: %v\nhint: give one with --store-dir DIR, or use --memory", err)
		}
		dir = filepath.Join(cache, "pcrun", "broker")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", nil, fmt.Errorf("cannot create the store directory: %v\nhint: give another with --store-dir DIR, or use --memory", err)
	}
	return dir, dir, func() {}, nil
}
