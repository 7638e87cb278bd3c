package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zoombroker/zoombroker/broker/secret"
)

// buildBroker compiles cmd/zoombroker into dir the way the Dockerfile does
// and returns the binary's path. It runs go in the working directory,
// which must be inside the repository.
func buildBroker(ctx context.Context, dir string) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	out := filepath.Join(dir, "zoombroker")
	cmd := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-o", out, "github.com/zoombroker/zoombroker/cmd/zoombroker")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build zoombroker (run from the repository, or pass -broker): %w\n%s", err, msg)
	}
	return out, nil
}

// brokerConfig is what one broker process is started with.
type brokerConfig struct {
	binary  string
	dataDir string

	// zoomURL is the sandbox, used as both the OAuth and the API base.
	zoomURL      string
	clientID     string
	clientSecret secret.Secret

	encryptionKey secret.Secret

	// env adds settings, such as "ZOOMBROKER_REFRESH_LEAD=1m".
	env []string

	// logPath receives the broker's stdout and stderr.
	logPath string
}

// brokerProcess is a running zoombroker serve.
type brokerProcess struct {
	cmd  *exec.Cmd
	url  string
	log  *os.File
	done chan struct{}

	// startedAt is just before the process started; ready is how long it
	// took until /readyz first answered 200.
	startedAt time.Time
	ready     time.Duration
}

// startBroker starts zoombroker serve on a free loopback port and waits
// until /readyz answers 200.
func startBroker(ctx context.Context, cfg brokerConfig) (*brokerProcess, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	listen := "127.0.0.1:" + strconv.Itoa(port)
	cookieKey := make([]byte, 64)
	rand.Read(cookieKey)

	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	env = append(env,
		"ZOOMBROKER_LISTEN="+listen,
		"ZOOMBROKER_BASE_URL=http://"+listen,
		"ZOOMBROKER_DATA_DIR="+cfg.dataDir,
		"ZOOMBROKER_ENCRYPTION_KEY="+cfg.encryptionKey.Reveal(),
		"ZOOMBROKER_COOKIE_KEY="+base64.StdEncoding.EncodeToString(cookieKey),
		"ZOOMBROKER_ZOOM_CLIENT_ID="+cfg.clientID,
		"ZOOMBROKER_ZOOM_CLIENT_SECRET="+cfg.clientSecret.Reveal(),
		"ZOOMBROKER_ZOOM_OAUTH_URL="+cfg.zoomURL,
		"ZOOMBROKER_ZOOM_API_URL="+cfg.zoomURL,
		"ZOOMBROKER_LOG_FORMAT=json",
	)
	env = append(env, cfg.env...)

	logFile, err := os.OpenFile(cfg.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start broker: %w", err)
	}
	cmd := exec.Command(cfg.binary, "serve")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile

	b := &brokerProcess{cmd: cmd, url: "http://" + listen, log: logFile, done: make(chan struct{})}
	b.startedAt = time.Now()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start broker: %w", err)
	}
	go func() {
		cmd.Wait()
		close(b.done)
	}()

	if err := b.waitReady(ctx, 2*time.Minute); err != nil {
		b.stop()
		return nil, fmt.Errorf("start broker: %w; see %s", err, cfg.logPath)
	}
	return b, nil
}

// waitReady polls /readyz every 2 ms and records how long the broker took
// from its start to the first 200.
func (b *brokerProcess) waitReady(ctx context.Context, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-b.done:
			return errors.New("the broker exited before it was ready")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := client.Get(b.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				b.ready = time.Since(b.startedAt)
				return nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s", timeout)
}

// stop sends SIGTERM and waits for the exit, killing the broker after 40
// seconds (its shutdown grace is 30).
func (b *brokerProcess) stop() {
	defer b.log.Close()
	select {
	case <-b.done:
		return
	default:
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(40 * time.Second):
		b.cmd.Process.Kill()
		<-b.done
	}
}

// memory is a process's resident set from /proc/PID/status, in bytes.
type memory struct {
	rss, anon, file int64
}

// residentMemory reads VmRSS, RssAnon and RssFile of the broker.
func (b *brokerProcess) residentMemory() (memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", b.cmd.Process.Pid))
	if err != nil {
		return memory{}, fmt.Errorf("read resident memory: %w", err)
	}
	defer f.Close()

	var m memory
	fields := map[string]*int64{"VmRSS:": &m.rss, "RssAnon:": &m.anon, "RssFile:": &m.file}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Fields(sc.Text())
		if len(parts) == 3 && parts[2] == "kB" {
			if dst, ok := fields[parts[0]]; ok {
				kb, _ := strconv.ParseInt(parts[1], 10, 64)
				*dst = kb << 10
			}
		}
	}
	return m, sc.Err()
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
