package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	natsq "github.com/pcrun/pcrun/queue/nats"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcrun/pcrun/stages"
)

// Every use of the NATS libraries by the commands is in this file: the
// embedded server of `pcrun broker` and the questions `pcrun status` asks
// a broker. The commands see small functions and plain values, so this
// file can move next to the NATS queue backend as it is.

// brokerReadyTimeout bounds how long the embedded server may take to
// accept connections after it started without error.
const brokerReadyTimeout = 10 * time.Second

// broker is a running embedded NATS server with JetStream.
type broker struct{ s *server.Server }

// brokerStartError is why a server that was created did not start: it
// could not listen (the port is in use) or was not ready in time.
type brokerStartError struct{ msg string }

func (e *brokerStartError) Error() string { return e.msg }

// startBroker starts an embedded NATS server with JetStream listening on
// host:port (port 0: a free port), keeping streams in dir, and waits until
// it accepts connections. It logs through log; the server installs no
// signal handlers, since pcrun owns the signals. A server that did not
// start is stopped, and the error is a *brokerStartError.
func startBroker(host string, port int, dir string, log *brokerLog) (*broker, error) {
	if port == 0 {
		port = server.RANDOM_PORT
	}
	s, err := server.NewServer(&server.Options{
		ServerName: "pcrun",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true, // pcrun owns the signals: see env.signals
	})
	if err != nil {
		return nil, err
	}
	s.SetLoggerV2(log, false, false, false)
	s.Start() // returns at once; a failure to listen is reported through log.Fatalf
	b := &broker{s}
	if msg := log.fatal(); msg != "" {
		b.stop()
		return nil, &brokerStartError{msg}
	}
	if !s.ReadyForConnections(brokerReadyTimeout) {
		b.stop()
		msg := log.fatal()
		if msg == "" {
			msg = fmt.Sprintf("not ready for connections after %s", brokerReadyTimeout)
		}
		return nil, &brokerStartError{msg}
	}
	return b, nil
}

// url is the URL clients connect to.
func (b *broker) url() string { return b.s.ClientURL() }

// port is the port listened on (the one port 0 picked).
func (b *broker) port() int { return b.s.Addr().(*net.TCPAddr).Port }

// stop shuts the server down and blocks until it has.
func (b *broker) stop() {
	b.s.Shutdown()
	b.s.WaitForShutdown()
}

// brokerLog is the embedded server's logger: errors and warnings go to
// stderr, notices only when verbose; fatal errors (a port in use) are kept
// for startBroker, since the server's own logger would exit the process.
type brokerLog struct {
	mu      sync.Mutex
	w       io.Writer
	verbose bool
	fatals  []string
}

func (l *brokerLog) fatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.fatals) == 0 {
		return ""
	}
	return l.fatals[0]
}

func (l *brokerLog) print(level, format string, args []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "pcrun: broker: %s%s\n", level, fmt.Sprintf(format, args...))
}

func (l *brokerLog) Noticef(format string, args ...any) {
	if l.verbose {
		l.print("", format, args)
	}
}
func (l *brokerLog) Warnf(format string, args ...any)  { l.print("warning: ", format, args) }
func (l *brokerLog) Errorf(format string, args ...any) { l.print("error: ", format, args) }
func (l *brokerLog) Debugf(string, ...any)             {}
func (l *brokerLog) Tracef(string, ...any)             {}
func (l *brokerLog) Fatalf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fatals = append(l.fatals, fmt.Sprintf(format, args...))
}

// queueStatuses asks each queue's broker about it, connecting once per url.
func queueStatuses(ctx context.Context, pipeline string, queues []*stages.Queue) []QueueStatus {
	conns := map[string]*nats.Conn{}
	connErrs := map[string]error{}
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	var out []QueueStatus
	for _, q := range queues {
		qs := QueueStatus{Queue: q.Name, URL: stages.Redacted(q.URL), Stream: q.Stream, Subject: q.Subject}
		nc, ok := conns[q.URL]
		if err := connErrs[q.URL]; !ok && err == nil {
			var err error
			nc, err = nats.Connect(q.URL, nats.Name("pcrun status"), nats.Timeout(statusTimeout), nats.MaxReconnects(0))
			if err != nil {
				connErrs[q.URL] = err
			} else {
				conns[q.URL] = nc
			}
		}
		if err := connErrs[q.URL]; err != nil {
			qs.Error = fmt.Sprintf("cannot connect to %s: %v", qs.URL, err)
			out = append(out, qs)
			continue
		}
		if err := queueStatus(ctx, nc, pipeline, q, &qs); err != nil {
			qs.Error = err.Error()
		}
		out = append(out, qs)
	}
	return out
}

// queueStatus fills qs from the stream's info and its consumer's.
func queueStatus(ctx context.Context, nc *nats.Conn, pipeline string, q *stages.Queue, qs *QueueStatus) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	stream, err := js.Stream(ctx, q.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		qs.Missing = true
		return writerStatus(ctx, js, pipeline, q, qs)
	}
	if err != nil {
		return fmt.Errorf("stream %s: %v", q.Stream, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream %s: %v", q.Stream, err)
	}
	qs.Messages = int64(info.State.Msgs)
	if info.Config.MaxMsgs > 0 {
		qs.Capacity = info.Config.MaxMsgs
	}
	// A work-queue stream has one consumer that every reader shares;
	// report every consumer there is rather than guess its name.
	names := stream.ConsumerNames(ctx)
	for name := range names.Name() {
		cons, err := stream.Consumer(ctx, name)
		if err != nil {
			return fmt.Errorf("consumer %s: %v", name, err)
		}
		ci := cons.CachedInfo()
		if qs.Consumer != "" {
			qs.Consumer += ","
		}
		qs.Consumer += name
		qs.Pending += int64(ci.NumPending)
		qs.AckPending += int64(ci.NumAckPending)
		qs.Redelivered += int64(ci.NumRedelivered)
	}
	if err := names.Err(); err != nil {
		return fmt.Errorf("consumers of %s: %v", q.Stream, err)
	}
	return writerStatus(ctx, js, pipeline, q, qs)
}

// writerStatus reads the queue's roster in the current generation of the
// pipeline's run on the broker (natsq.ReadRoster). No roster yet: no
// process has registered, so no writer has finished.
func writerStatus(ctx context.Context, js jetstream.JetStream, pipelineName string, q *stages.Queue, qs *QueueStatus) error {
	gen, r, err := natsq.ReadRoster(ctx, js, pipelineName, q.Name)
	if err != nil {
		return err
	}
	qs.Generation = gen
	if r == nil {
		r = &natsq.Roster{}
	}
	for _, w := range q.Writers {
		procs, replicas := r.Processes(w, true)
		qs.Writers = append(qs.Writers, WriterStatus{Stage: w, Ended: r.StageEnded(w), Processes: procs, Replicas: replicas})
	}
	qs.Readers = []ReaderStatus{}
	for _, s := range q.Readers {
		if procs, replicas := r.Processes(s, false); procs > 0 {
			qs.Readers = append(qs.Readers, ReaderStatus{Stage: s, Processes: procs, Replicas: replicas})
		}
	}
	qs.Ended, qs.Markers = r.Ended, r.Markers
	return nil
}
