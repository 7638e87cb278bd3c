package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// waitLimit guards against a hung process; it is not a performance goal.
const waitLimit = 60 * time.Second

// buildBinary builds zoombroker into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool not found on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "zoombroker")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a running zoombroker.
type process struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan error
}

// baseEnv is the test process's environment without ZOOMBROKER_ settings,
// plus extra.
func baseEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ZOOMBROKER_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

func start(t *testing.T, bin string, env []string, args ...string) *process {
	t.Helper()
	p := &process{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Stdout = p.stdout
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait returns the exit code once the process ends.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	select {
	case err := <-p.done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		if err != nil {
			t.Fatalf("wait: %v", err)
		}
		return 0
	case <-time.After(waitLimit):
		p.cmd.Process.Kill()
		t.Fatalf("process did not exit within %s; stderr:\n%s", waitLimit, p.stderr)
		return -1
	}
}

// waitHealthy polls /healthz until it returns 200 or the process exits.
func (p *process) waitHealthy(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("broker exited before /healthz returned 200: %v\nstderr:\n%s", err, p.stderr)
		case <-ctx.Done():
			t.Fatalf("GET /healthz did not return 200 within %s: %v\nstderr:\n%s", waitLimit, err, p.stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// credential returns the value after label in the dev credentials box.
func credential(t *testing.T, stdout, label string) string {
	t.Helper()
	for _, line := range strings.Split(stdout, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), label); ok {
			return strings.TrimSpace(rest)
		}
	}
	t.Fatalf("stdout has no %q line:\n%s", label, stdout)
	return ""
}

func TestServeDev(t *testing.T) {
	bin := buildBinary(t)
	dataDir := t.TempDir()
	addr := freeAddr(t)
	env := baseEnv(envListen+"="+addr, envDataDir+"="+dataDir)

	broker := start(t, bin, env, "serve", "--dev")
	broker.waitHealthy(t, addr)

	out := broker.stdout.String()
	if got := strings.Count(out, devBoxTitle); got != 1 {
		t.Errorf("stdout has the credentials box %d times; want 1:\n%s", got, out)
	}
	password := credential(t, out, "Password")
	key := credential(t, out, "API key")
	if !strings.Contains(out, "http://"+addr+"/v1/accounts/ACCOUNT_ID/token") {
		t.Errorf("stdout has no curl line for the token endpoint:\n%s", out)
	}
	if logs := broker.stderr.String(); strings.Contains(logs, password) || strings.Contains(logs, key) {
		t.Errorf("stderr contains the dev password or API key:\n%s", logs)
	}
	if got := apiStatus(t, addr, key); got != http.StatusOK {
		t.Errorf("GET /v1/apps with the dev key = %d; want 200", got)
	}

	info, err := os.Stat(filepath.Join(dataDir, devKeysFile))
	if err != nil {
		t.Fatalf("dev keys file: %v", err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("dev keys file mode = %o; want 600", got)
	}

	t.Run("second instance", func(t *testing.T) {
		second := start(t, bin, baseEnv(envListen+"="+freeAddr(t), envDataDir+"="+dataDir), "serve", "--dev")
		if code := second.wait(t); code != exitFailure {
			t.Errorf("second serve exit code = %d; want %d", code, exitFailure)
		}
		if got := second.stderr.String(); !strings.Contains(got, "another zoombroker is using "+filepath.Join(dataDir, dbFile)) {
			t.Errorf("second serve stderr = %q; want the locked-file message", got)
		}
		if got := second.stdout.String(); got != "" {
			t.Errorf("second serve stdout = %q; want nothing", got)
		}
	})

	t.Run("keys while running", func(t *testing.T) {
		keys := start(t, bin, baseEnv(envDataDir+"="+dataDir), "keys", "create", "--name", "ci")
		if code := keys.wait(t); code != exitFailure {
			t.Errorf("keys create exit code = %d; want %d", code, exitFailure)
		}
		if got := keys.stderr.String(); !strings.Contains(got, "the broker is running") || !strings.Contains(got, "console") {
			t.Errorf("keys create stderr = %q; want a pointer to the console", got)
		}
	})

	devKeys, err := os.ReadFile(filepath.Join(dataDir, devKeysFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := broker.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := broker.wait(t); code != 0 {
		t.Fatalf("serve exit code after SIGTERM = %d; want 0\nstderr:\n%s", code, broker.stderr)
	}

	t.Run("keys while stopped", func(t *testing.T) {
		keys := start(t, bin, baseEnv(envDataDir+"="+dataDir), "keys", "create", "--name", "ci")
		if code := keys.wait(t); code != 0 {
			t.Fatalf("keys create exit code = %d; want 0\nstderr:\n%s", code, keys.stderr)
		}
		if got := keys.stdout.String(); !strings.HasPrefix(got, "zbk_") {
			t.Errorf("keys create stdout = %q; want the key", got)
		}
	})

	t.Run("restart", func(t *testing.T) {
		again := start(t, bin, env, "serve", "--dev")
		again.waitHealthy(t, addr)

		reread, err := os.ReadFile(filepath.Join(dataDir, devKeysFile))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(reread, devKeys) {
			t.Errorf("dev keys file changed on restart; want the keys reused")
		}
		if got := apiStatus(t, addr, key); got != http.StatusUnauthorized {
			t.Errorf("GET /v1/apps with the previous dev key = %d; want 401", got)
		}
		if got := apiStatus(t, addr, credential(t, again.stdout.String(), "API key")); got != http.StatusOK {
			t.Errorf("GET /v1/apps with the new dev key = %d; want 200", got)
		}

		again.cmd.Process.Signal(syscall.SIGINT)
		if code := again.wait(t); code != 0 {
			t.Errorf("serve exit code after SIGINT = %d; want 0\nstderr:\n%s", code, again.stderr)
		}
	})
}

// apiStatus returns the status of GET /v1/apps with the API key.
func apiStatus(t *testing.T, addr, key string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/v1/apps", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /v1/apps: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
