package nats

import (
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// An embedded NATS server with JetStream: what `pcrun broker` runs.

// serverReadyTimeout bounds how long the embedded server may take to
// accept connections after it started without error.
const serverReadyTimeout = 10 * time.Second

// ServerConfig says where an embedded server listens, where it keeps its
// streams and where it logs.
type ServerConfig struct {
	Host string // the address to listen on
	Port int    // the port to listen on; 0: a free port
	// StoreDir is the directory JetStream keeps its streams in.
	StoreDir string
	// Log receives the server's errors and warnings, and its notices when
	// Verbose, one "pcrun: broker: " line each. Nil discards them.
	Log     io.Writer
	Verbose bool
	// Clients authenticate with Token, or as User with Password; with
	// neither, anyone who reaches the port may use the server. Every
	// client is in the server's one account, which has JetStream.
	Token, User, Password string
	// With TLSCert and TLSKey (PEM files), clients connect with TLS; with
	// TLSCA too, each must present a certificate signed by an authority
	// of that file.
	TLSCert, TLSKey, TLSCA string
}

// Server is a running embedded NATS server with JetStream.
type Server struct{ s *server.Server }

// StartError is why a server that was created did not start: it could not
// listen (the port is in use) or was not ready in time. Msg is the
// server's own words.
type StartError struct{ Msg string }

func (e *StartError) Error() string { return e.Msg }

// StartServer starts an embedded NATS server with JetStream as c says and
// waits until it accepts connections. The server installs no signal
// handlers: the program that embeds it owns the signals. A server that
// did not start is stopped, and the error is a *StartError; any other
// error is about the configuration.
func StartServer(c ServerConfig) (*Server, error) {
	port := c.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName: "pcrun",
		Host:       c.Host,
		Port:       port,
		JetStream:  true,
		StoreDir:   c.StoreDir,
		NoSigs:     true,
		// Without accounts, every client is in the global account, which
		// JetStream is enabled for: authentication changes nothing there.
		Authorization: c.Token,
		Username:      c.User,
		Password:      c.Password,
	}
	if c.TLSCert != "" || c.TLSKey != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: c.TLSCert, KeyFile: c.TLSKey, CaFile: c.TLSCA, Verify: c.TLSCA != ""})
		if err != nil {
			return nil, fmt.Errorf("TLS: %v", err)
		}
		opts.TLS, opts.TLSConfig, opts.TLSVerify = true, tc, c.TLSCA != ""
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, err
	}
	log := &serverLog{w: c.Log, verbose: c.Verbose}
	if log.w == nil {
		log.w = io.Discard
	}
	s.SetLoggerV2(log, false, false, false)
	s.Start() // returns at once; a failure to listen is reported through log.Fatalf
	srv := &Server{s}
	if msg := log.fatal(); msg != "" {
		srv.Stop()
		return nil, &StartError{msg}
	}
	if !s.ReadyForConnections(serverReadyTimeout) {
		srv.Stop()
		msg := log.fatal()
		if msg == "" {
			msg = fmt.Sprintf("not ready for connections after %s", serverReadyTimeout)
		}
		return nil, &StartError{msg}
	}
	return srv, nil
}

// URL is the URL clients connect to, without credentials: tls:// when
// the server requires TLS.
func (s *Server) URL() string { return s.s.ClientURL() }

// Port is the port listened on (the one port 0 picked).
func (s *Server) Port() int { return s.s.Addr().(*net.TCPAddr).Port }

// Stop shuts the server down and blocks until it has.
func (s *Server) Stop() {
	s.s.Shutdown()
	s.s.WaitForShutdown()
}

// serverLog is the embedded server's logger: errors and warnings go to
// w, notices only when verbose; fatal errors (a port in use) are kept for
// StartServer, since the server's own logger would exit the process.
type serverLog struct {
	mu      sync.Mutex
	w       io.Writer
	verbose bool
	fatals  []string
}

func (l *serverLog) fatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.fatals) == 0 {
		return ""
	}
	return l.fatals[0]
}

func (l *serverLog) print(level, format string, args []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "pcrun: broker: %s%s\n", level, fmt.Sprintf(format, args...))
}

func (l *serverLog) Noticef(format string, args ...any) {
	if l.verbose {
		l.print("", format, args)
	}
}
func (l *serverLog) Warnf(format string, args ...any) {
	// The password is given when the server starts, not written in a
	// configuration file: the advice to hash it there does not apply.
	if format != "Plaintext passwords detected, use nkeys or bcrypt" {
		l.print("warning: ", format, args)
	}
}
func (l *serverLog) Errorf(format string, args ...any) { l.print("error: ", format, args) }
func (l *serverLog) Debugf(string, ...any)             {}
func (l *serverLog) Tracef(string, ...any)             {}
func (l *serverLog) Fatalf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fatals = append(l.fatals, fmt.Sprintf(format, args...))
}
