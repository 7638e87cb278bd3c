package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// serveBaseline is the -baseline mode: a bare net/http server that reads
// each request body and returns the same JSON body of bodySize bytes from
// memory. It prints "listening on ADDR" and serves until stdin closes.
func serveBaseline(listen string, bodySize int) error {
	body := baselineBody(bodySize)
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("baseline: listen on %s: %w", listen, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})}
	fmt.Printf("listening on %s\n", ln.Addr())

	go func() {
		io.Copy(io.Discard, os.Stdin) // the parent closes stdin to stop us
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("baseline: serve: %w", err)
	}
	return nil
}

// baselineBody returns a JSON object of exactly size bytes (at least 12),
// shaped like a token response: a few short fields and one long string.
func baselineBody(size int) []byte {
	prefix := `{"token_type":"bearer","expires_in":3599,"access_token":"`
	suffix := `"}`
	fill := size - len(prefix) - len(suffix)
	if fill < 0 {
		prefix, fill = `{"a":"`, max(size-len(`{"a":"`)-len(suffix), 0)
	}
	return []byte(prefix + strings.Repeat("x", fill) + suffix)
}

// baselineProcess is a running -baseline child.
type baselineProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	url   string
}

// startBaseline starts this program in -baseline mode on a free loopback
// port and waits until it listens.
func startBaseline(ctx context.Context, bodySize int) (*baselineProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start baseline: %w", err)
	}
	cmd := exec.CommandContext(ctx, self, "-baseline", "-listen", "127.0.0.1:0", "-body-size", strconv.Itoa(bodySize))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start baseline: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start baseline: %w", err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start baseline: %w", err)
	}

	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if err != nil || !ok {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("start baseline: got %q on stdout: %v", line, err)
	}
	return &baselineProcess{cmd: cmd, stdin: stdin, url: "http://" + addr}, nil
}

// stop closes the child's stdin and waits for it to exit.
func (b *baselineProcess) stop() {
	b.stdin.Close()
	done := make(chan struct{})
	go func() {
		b.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-done
	}
}

// checkBaselineBody reports an error unless body is the baseline's body.
func checkBaselineBody(want []byte) func([]byte) error {
	return func(body []byte) error {
		if !bytes.Equal(body, want) {
			return fmt.Errorf("baseline body of %d bytes; want %d", len(body), len(want))
		}
		return nil
	}
}
