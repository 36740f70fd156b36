package cli

import (
	"os"
	"strings"
	"testing"
)

func TestColorful(t *testing.T) {
	tty, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0) // a character device, like a terminal
	if err != nil {
		t.Skip(err)
	}
	defer tty.Close()
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "xterm")
	if !colorful(tty) {
		t.Error("a character device should get colour")
	}
	t.Setenv("NO_COLOR", "1")
	if colorful(tty) {
		t.Error("NO_COLOR must turn colour off")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	t.Setenv("NO_COLOR", "")
	if colorful(w) || colorful(&strings.Builder{}) {
		t.Error("pipes and buffers get no colour")
	}
}
