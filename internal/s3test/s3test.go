// Package s3test runs a real S3-compatible server for tests: versitygw
// (github.com/versity/versitygw) over a temporary directory, on a free
// port of 127.0.0.1, with random credentials and an empty bucket. It is
// stopped by the test's cleanup; Restart stops and starts it again on the
// same port and directory, for fault tests.
//
// The binary is $KILN_VERSITYGW, else versitygw v1.8.0 where
// scripts/lib.sh's ensure_versitygw installs it. Without it tests skip,
// or fail under KILN_REQUIRE_INTEROP=1.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Version is the versitygw release the tests run.
const Version = "v1.8.0"

const (
	startTimeout = 30 * time.Second
	Region       = "us-east-1"
)

// Server is a running versitygw.
type Server struct {
	Endpoint  string // 127.0.0.1:port
	AccessKey string
	SecretKey string
	Bucket    string // created empty

	bin, root, logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// Binary is the versitygw the tests run, or "" with the reason it is
// missing.
func Binary() (path, missing string) {
	if p := os.Getenv("KILN_VERSITYGW"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Sprintf("KILN_VERSITYGW=%s: %v", p, err)
		}
		return p, ""
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err.Error()
	}
	p := filepath.Join(dir, "kiln", "tools", "versitygw-"+Version, "versitygw")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Sprintf("versitygw is not installed at %s (scripts/test installs it; or set KILN_VERSITYGW)", p)
	}
	return p, ""
}

// Start runs a server for the test, skipping the test when versitygw is
// missing (failing it under KILN_REQUIRE_INTEROP=1).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, missing := Binary()
	if missing != "" {
		if os.Getenv("KILN_REQUIRE_INTEROP") == "1" {
			t.Fatalf("s3test: %s (KILN_REQUIRE_INTEROP=1)", missing)
		}
		t.Skipf("s3test: %s", missing)
	}
	dir := t.TempDir()
	s := &Server{
		AccessKey: "kiln" + secret(8), SecretKey: secret(20), Bucket: "kiln-test",
		bin: bin, root: filepath.Join(dir, "root"), logPath: filepath.Join(dir, "versitygw.log"),
	}
	if err := os.Mkdir(s.root, 0o755); err != nil {
		t.Fatal(err)
	}
	// A port free when chosen may be taken before versitygw binds it.
	var err error
	for try := 0; try < 3; try++ {
		var port int
		if port, err = freePort(); err != nil {
			t.Fatal(err)
		}
		s.Endpoint = fmt.Sprintf("127.0.0.1:%d", port)
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("s3test: %v\n%s", err, s.logTail())
	}
	t.Cleanup(s.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := s.Client(t).MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{Region: Region}); err != nil {
		t.Fatalf("s3test: creating bucket %s: %v", s.Bucket, err)
	}
	return s
}

// Client is a minio-go client of the server.
func (s *Server) Client(t testing.TB) *minio.Client {
	c, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Region: Region})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// start runs versitygw and waits until it answers an authenticated request.
func (s *Server) start() error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.bin, "--port", s.Endpoint, "--access", s.AccessKey, "--secret", s.SecretKey,
		"--region", Region, "--keep-alive", "--quiet", "posix", s.root)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + filepath.Dir(s.root)}
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, and killed with the test binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	c, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Region: Region, MaxRetries: 1})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.ListBuckets(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("versitygw exited while starting on %s: %v", s.Endpoint, cmd.ProcessState)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("versitygw not answering on %s after %v: %v", s.Endpoint, startTimeout, err)
		}
	}
}

// Stop kills the server (SIGKILL: as a crash, nothing flushed) and waits
// for it to exit.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
}

// Restart kills the server and starts it again on the same port and
// directory, keeping every object.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		t.Fatalf("s3test: restarting: %v\n%s", err, s.logTail())
	}
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func secret(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
