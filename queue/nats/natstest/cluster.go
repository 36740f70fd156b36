// Package natstest starts real NATS JetStream clusters for pcrun's tests:
// nats-server processes built from the module cache (the version go.mod
// names), one per node, on loopback ports, each with its own store. A test
// kills and restarts single nodes by process, as a machine would fail.
// Tests only.
package natstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The nats-server binary, built once per test binary (Binary).
var (
	buildOnce sync.Once
	buildDir  string
	serverBin string
	buildErr  error
)

// Binary returns the path of a nats-server built from the module cache
// (`go build github.com/nats-io/nats-server/v2`, offline), building it
// the first time. Remove deletes it; a TestMain calls Remove at its end.
func Binary() (string, error) {
	buildOnce.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("no `go` command on PATH to build nats-server: %v", err)
			return
		}
		if buildDir, buildErr = os.MkdirTemp("", "pcrun-nats-server-"); buildErr != nil {
			return
		}
		serverBin = filepath.Join(buildDir, "nats-server")
		cmd := exec.Command(gobin, "build", "-o", serverBin, "github.com/nats-io/nats-server/v2")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("%s: %v\n%s", cmd, err, out)
		}
	})
	return serverBin, buildErr
}

// Remove deletes the binary Binary built, if any.
func Remove() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// Node is one server of a Cluster.
type Node struct {
	Name        string // its server name, as stream infos name leaders
	Port        int    // client port
	ClusterPort int
	Store       string
	log         string // its stdout and stderr, across restarts

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and was waited for
}

// URL is the node's client URL.
func (n *Node) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(n.Port) }

// Cluster is a JetStream cluster of nats-server processes on loopback.
type Cluster struct {
	t     testing.TB
	Nodes []*Node
}

// Start starts a cluster of n nodes and waits until it can place a
// stream with n replicas. Every node still running at the end of the
// test is killed and waited for; its log is shown if the test failed.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	if _, err := Binary(); err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	dir := t.TempDir()
	c := &Cluster{t: t}
	ports := freePorts(t, 2*n)
	for i := range n {
		name := "n" + strconv.Itoa(i+1)
		c.Nodes = append(c.Nodes, &Node{Name: name, Port: ports[2*i], ClusterPort: ports[2*i+1],
			Store: filepath.Join(dir, name), log: filepath.Join(dir, name+".log")})
	}
	t.Cleanup(func() {
		for _, node := range c.Nodes {
			c.stop(node)
		}
		if t.Failed() {
			for _, node := range c.Nodes {
				b, _ := os.ReadFile(node.log)
				t.Logf("nats-server %s log (last 3000 bytes):\n%s", node.Name, tail(b, 3000))
			}
		}
	})
	for i := range c.Nodes {
		c.Restart(i)
	}
	c.WaitReady(n)
	return c
}

// URL lists every node's client URL, separated by commas.
func (c *Cluster) URL() string {
	urls := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		urls[i] = n.URL()
	}
	return strings.Join(urls, ",")
}

// Restart starts node i (again, on its ports and store); it must not be
// running.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	n := c.Nodes[i]
	var routes []string
	for _, o := range c.Nodes {
		if o != n {
			routes = append(routes, "nats://127.0.0.1:"+strconv.Itoa(o.ClusterPort))
		}
	}
	log, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	defer log.Close() // the child has its own descriptor
	n.cmd = exec.Command(serverBin, "-n", n.Name, "-a", "127.0.0.1", "-p", strconv.Itoa(n.Port),
		"-js", "-sd", n.Store, "--cluster_name", "pcrun-test",
		"--cluster", "nats://127.0.0.1:"+strconv.Itoa(n.ClusterPort), "--routes", strings.Join(routes, ","))
	n.cmd.Stdout, n.cmd.Stderr = log, log
	if err := n.cmd.Start(); err != nil {
		c.t.Fatalf("start nats-server %s: %v", n.Name, err)
	}
	n.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { // owned by the node: stop waits for it
		_ = cmd.Wait()
		close(done)
	}(n.cmd, n.done)
}

// Kill kills node i with SIGKILL and waits until it has exited.
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	if !c.stop(c.Nodes[i]) {
		c.t.Fatalf("nats-server %s was not running", c.Nodes[i].Name)
	}
}

// stop kills n if it runs and waits for it; false if it was not running.
func (c *Cluster) stop(n *Node) bool {
	if n.cmd == nil {
		return false
	}
	_ = n.cmd.Process.Kill()
	<-n.done
	n.cmd = nil
	return true
}

// Running reports whether node i runs.
func (c *Cluster) Running(i int) bool { return c.Nodes[i].cmd != nil }

// WaitReady waits until the running nodes answer and the cluster can
// place a stream with replicas replicas: it has a JetStream meta leader,
// and enough servers have joined it. It fails the test after a timeout
// saying what it waited for.
func (c *Cluster) WaitReady(replicas int) {
	c.t.Helper()
	const timeout = 60 * time.Second
	var urls []string
	for i, n := range c.Nodes {
		if c.Running(i) {
			urls = append(urls, n.URL())
		}
	}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if last = probe(strings.Join(urls, ","), replicas); last == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("the cluster (%s) could not place a stream with %d replicas after %v (a JetStream meta leader "+
		"and %d servers joined): %v", strings.Join(urls, ","), replicas, timeout, replicas, last)
}

// probe asks the cluster for its JetStream account information (answered
// by the meta leader), then makes and removes a stream with replicas
// replicas.
func probe(url string, replicas int) error {
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("account info: %w", err)
	}
	const name = "NATSTEST_PROBE"
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{"natstest.probe"},
		Storage: jetstream.MemoryStorage, Replicas: replicas}); err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("a stream with %d replicas: %w", replicas, err)
	}
	return js.DeleteStream(ctx, name)
}

// StreamLeader returns the index of the node leading stream, asking the
// cluster through js.
func (c *Cluster) StreamLeader(ctx context.Context, js jetstream.JetStream, stream string) (int, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return -1, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return -1, err
	}
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return -1, fmt.Errorf("stream %s has no leader now", stream)
	}
	for i, n := range c.Nodes {
		if n.Name == info.Cluster.Leader {
			return i, nil
		}
	}
	return -1, fmt.Errorf("stream %s is led by %q, not a node of this cluster", stream, info.Cluster.Leader)
}

// freePorts returns n distinct loopback ports nothing listens on now:
// each is held until all are found, so none is handed out twice.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return b
}
