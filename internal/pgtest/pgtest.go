// Package pgtest runs a throwaway PostgreSQL 15 + PostGIS 3 server on
// 127.0.0.1 for tests and hands out fresh databases reached with a password
// over TCP, exactly as a remote server would be.
package pgtest

// Lifetime: the first Start in a test binary starts one server that every
// test of that binary (parallel ones included) shares; it is never stopped
// by a test's cleanup, since a later test may still need it. Instead Start
// first launches a small watchdog shell whose standard input is a pipe only
// this process holds open. When the test binary exits — normally, by
// os.Exit, a -timeout panic or even SIGKILL — the kernel closes the pipe,
// and the watchdog lets an initdb still running finish (up to 30 s, then
// SIGKILL to its process group: a bootstrap backend whose files vanish or
// that is signalled leaves its shared memory behind), stops the server
// (SIGQUIT, PostgreSQL's immediate shutdown, which removes its shared
// memory; SIGKILL after 10 s) and removes the directory. It finds them
// through the pid files initdb.pid and postgres.pid that Start writes beside
// data/ as soon as each has started. Databases are per test and dropped by
// its cleanup. Only a crash of the test binary in the microseconds between
// starting initdb or postgres and writing its pid file can leave one behind.
//
// The server, initdb and the watchdog are in process groups of their own
// (a ^C at the terminal reaches the test binary, whose exit then triggers
// the watchdog) and are handed no stdout/stderr of ours, so `go test`
// never waits on them. While the test binary lives it reaps its own
// children; the server and the watchdog outlive it by the fraction of a
// second the shutdown takes, and are then reaped by init as orphans.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// BinDir holds Debian's PostgreSQL 15 server binaries (postgresql-15).
	BinDir = "/usr/lib/postgresql/15/bin"
	// Role is the test role: LOGIN, CREATEDB, not a superuser.
	Role = "kiln"

	extensionControl = "/usr/share/postgresql/15/extension/postgis.control" // postgresql-15-postgis-3-scripts
	extensionLibrary = "/usr/lib/postgresql/15/lib/postgis-3.so"            // postgresql-15-postgis-3
	superuser        = "postgres"
	templateDB       = "kiln_postgis_template"
	startTimeout     = 30 * time.Second // initdb, then the server accepting connections
	opTimeout        = 30 * time.Second // one administrative statement
)

// Server is a running throwaway PostgreSQL server. It is safe for
// concurrent use.
type Server struct {
	port      int
	dir       string // everything: data/, the socket, server.log
	superPass string
	rolePass  string
	logPath   string

	proc   *os.Process   // the postmaster
	exited chan struct{} // closed when the postmaster has exited
	keep   *os.File      // the watchdog's pipe; held (never closed) until exit

	tmplOnce sync.Once
	tmplErr  error
	seq      atomic.Int64
}

var (
	once      sync.Once
	shared    *Server
	sharedErr error
	skipWhy   string
)

// Start returns the test binary's PostgreSQL server, starting it on first
// use (about a second). When PostgreSQL 15 or PostGIS is not installed it
// skips the test, or fails it under KILN_REQUIRE_INTEROP=1.
func Start(t testing.TB) *Server {
	t.Helper()
	once.Do(func() {
		if skipWhy = missing(); skipWhy != "" {
			return
		}
		shared, sharedErr = start()
	})
	if skipWhy != "" {
		if os.Getenv("KILN_REQUIRE_INTEROP") == "1" {
			t.Fatalf("pgtest: %s (KILN_REQUIRE_INTEROP=1; scripts/test installs it)", skipWhy)
		}
		t.Skipf("pgtest: %s", skipWhy)
	}
	if sharedErr != nil {
		t.Fatalf("pgtest: %v", sharedErr)
	}
	return shared
}

// missing says what is missing to run the server, or "".
func missing() string {
	for _, f := range []string{
		filepath.Join(BinDir, "initdb"), filepath.Join(BinDir, "postgres"),
	} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Sprintf("PostgreSQL 15 is not installed (no %s; Debian package postgresql-15)", f)
		}
	}
	for f, pkg := range map[string]string{
		extensionControl: "postgresql-15-postgis-3-scripts",
		extensionLibrary: "postgresql-15-postgis-3",
	} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Sprintf("PostGIS 3 is not installed (no %s; Debian package %s)", f, pkg)
		}
	}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup(superuser); err != nil {
			return "running as root and there is no postgres user to run PostgreSQL as (Debian package postgresql-15 creates it)"
		}
	}
	return ""
}

func start() (_ *Server, err error) {
	began := time.Now()
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(baseDir(), "kiln-pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, logPath: filepath.Join(dir, "server.log"), superPass: secret(), rolePass: secret()}
	// The watchdog comes first: from here on, whatever happens to this
	// process, the directory and any server in it go away with it.
	if err := s.startWatchdog(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer func() {
		if err != nil {
			s.kill()
			os.RemoveAll(dir)
			s.keep.Close() // the watchdog finds nothing left and exits
		}
	}()
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	if err := s.initdb(cred); err != nil {
		return nil, err
	}
	// The port is free when chosen but may be taken before the server
	// binds it: then the server exits at once and another port is tried.
	deadline := began.Add(startTimeout)
	for try := 1; ; try++ {
		err = s.startServer(cred, deadline)
		if err == nil || !errors.Is(err, errExited) || try == 3 || time.Now().After(deadline) {
			break
		}
	}
	if err == nil {
		err = s.admin(context.Background(), "postgres",
			"CREATE ROLE "+Role+" LOGIN NOSUPERUSER CREATEDB PASSWORD '"+s.rolePass+"'")
	}
	if err != nil {
		return nil, fmt.Errorf("%w\nserver log:\n%s", err, s.LogTail(30))
	}
	return s, nil
}

var errExited = errors.New("postgres exited")

// credential is who initdb and postgres run as: nil for the current user,
// the postgres system user when we are root (PostgreSQL refuses root).
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(superuser)
	if err != nil {
		return nil, err
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// baseDir is where the server's directory goes: $TMPDIR when every
// directory above it lets others through (the postgres user must reach it
// when we are root) and it is short enough for the Unix socket's path
// (at most 107 bytes), else /tmp.
func baseDir() string {
	d := os.TempDir()
	if len(d) > 60 {
		return "/tmp"
	}
	if os.Geteuid() == 0 {
		for p := d; ; p = filepath.Dir(p) {
			fi, err := os.Stat(p)
			if err != nil || fi.Mode().Perm()&0o001 == 0 {
				return "/tmp"
			}
			if p == "/" || p == "." {
				break
			}
		}
	}
	return d
}

func secret() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// command runs a PostgreSQL binary as cred, in a process group of its own
// and with a minimal environment.
func command(ctx context.Context, cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(BinDir, name), args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	// On timeout, the whole group: initdb's backend with it.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// writePid records a started process for the watchdog.
func (s *Server) writePid(name string, p *os.Process) {
	os.WriteFile(filepath.Join(s.dir, name), []byte(strconv.Itoa(p.Pid)+"\n"), 0o644)
}

func (s *Server) initdb(cred *syscall.Credential) error {
	pwfile := filepath.Join(s.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.superPass+"\n"), 0o600); err != nil {
		return err
	}
	if cred != nil {
		if err := os.Chown(pwfile, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	defer os.Remove(pwfile)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := command(ctx, cred, "initdb",
		"-D", filepath.Join(s.dir, "data"), "-U", superuser, "--pwfile", pwfile,
		"-E", "UTF8", "--locale", "C", "--no-sync", "--no-instructions",
		"--auth-local", "scram-sha-256", "--auth-host", "scram-sha-256",
	)
	// Its output goes to a file, not to a pipe to this process: when this
	// process dies, initdb is left to finish unharmed (see the watchdog).
	logPath := filepath.Join(s.dir, "initdb.log")
	out, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("initdb: %v", err)
	}
	s.writePid("initdb.pid", cmd.Process)
	err = cmd.Wait()
	os.Remove(filepath.Join(s.dir, "initdb.pid"))
	if err != nil {
		b, _ := os.ReadFile(logPath)
		return fmt.Errorf("initdb: %v\n%s", err, tail(string(b), 30))
	}
	// Only password logins: over the socket (in our private directory) and
	// over TCP from 127.0.0.1, the one address the server listens on.
	hba := "local all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n"
	return os.WriteFile(filepath.Join(s.dir, "data", "pg_hba.conf"), []byte(hba), 0o600)
}

// startServer runs postgres on a free port and waits until it accepts a
// superuser login, the server exits (errExited) or the deadline passes.
func (s *Server) startServer(cred *syscall.Credential, deadline time.Time) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own copy
	cmd := command(context.Background(), cred, "postgres",
		"-D", filepath.Join(s.dir, "data"),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port="+strconv.Itoa(port),
		"-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "shared_buffers=64MB",
		"-c", "max_connections=200",
		"-c", "logging_collector=off",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	s.writePid("postgres.pid", cmd.Process)
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }() // reaps it, whenever it exits
	s.port, s.proc, s.exited = port, cmd.Process, exited

	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := pgx.Connect(ctx, s.SuperuserURL())
		cancel()
		if err == nil {
			c.Close(context.Background())
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%w while starting on port %d: %v", errExited, port, cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("postgres not accepting connections on 127.0.0.1:%d after %v: %v", port, startTimeout, err)
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// watchdogScript waits for EOF on stdin (this process has exited), then
// waits for initdb to finish, stops the server recorded in $1 and removes
// $1. A zombie counts as gone: orphans wait for init to reap them. (dash's
// kill takes -PGID for a process group, without "--".)
const watchdogScript = `cat >/dev/null
running() { # pid
  s=$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) && [ -n "$s" ] && [ "$s" != Z ]
}
gone() { # pid tenths-of-seconds
  i=0
  while running "$1"; do
    i=$((i+1)); [ $i -ge "$2" ] && return 1
    sleep 0.1
  done
}
pid=$(cat "$1/initdb.pid" 2>/dev/null) && [ -n "$pid" ] && { gone "$pid" 300 || kill -KILL "-$pid"; }
pid=$(cat "$1/postgres.pid" 2>/dev/null) && [ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null &&
  { gone "$pid" 100 || kill -KILL "$pid"; }
rm -rf "$1"
`

func (s *Server) startWatchdog() error {
	r, w, err := os.Pipe() // close-on-exec: no other child inherits w
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", "-c", watchdogScript, "pgtest-watchdog", s.dir)
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("watchdog: %v", err)
	}
	go cmd.Wait()
	s.keep = w // referenced by the package's shared Server, so never collected
	return nil
}

// kill stops the server now, if it runs, and waits for it to exit.
func (s *Server) kill() {
	if s.proc == nil {
		return
	}
	s.proc.Signal(syscall.SIGQUIT) // immediate shutdown
	select {
	case <-s.exited:
		return
	case <-time.After(10 * time.Second):
	}
	s.proc.Kill()
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
	}
}

// Port is the TCP port the server listens on at 127.0.0.1.
func (s *Server) Port() int { return s.port }

// SuperuserURL is the URL of the postgres database as the superuser
// postgres.
func (s *Server) SuperuserURL() string { return s.superuserURL("postgres") }

func (s *Server) superuserURL(db string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s", superuser, s.superPass, s.port, db)
}

// URL is the URL of database db as the test role: no TLS (the server has
// none; clients that prefer it, as pgx does by default, fall back).
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s", Role, s.rolePass, s.port, db)
}

// LogTail returns the last n lines of the server's log.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	return tail(string(b), n)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// NewDatabase creates a database owned by the test role with the postgis
// extension created (by the superuser), returns its URL for the test role
// and drops it when the test ends.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	s.tmplOnce.Do(func() { s.tmplErr = s.makeTemplate() })
	if s.tmplErr != nil {
		t.Fatalf("pgtest: PostGIS template database: %v\nserver log:\n%s", s.tmplErr, s.LogTail(30))
	}
	return s.newDatabase(t, templateDB)
}

// NewDatabaseWithoutPostGIS creates a database owned by the test role
// without PostGIS, which the role, not a superuser, may not create there;
// it returns its URL for the test role and drops it when the test ends.
func (s *Server) NewDatabaseWithoutPostGIS(t testing.TB) string {
	t.Helper()
	return s.newDatabase(t, "template1")
}

func (s *Server) newDatabase(t testing.TB, template string) string {
	t.Helper()
	name := s.dbName(t.Name())
	ctx := context.Background()
	if err := s.admin(ctx, "postgres", fmt.Sprintf("CREATE DATABASE %s OWNER %s TEMPLATE %s",
		ident(name), ident(Role), ident(template))); err != nil {
		t.Fatalf("pgtest: %v\nserver log:\n%s", err, s.LogTail(30))
	}
	t.Cleanup(func() {
		// FORCE ends the connections a test left open.
		if err := s.admin(ctx, "postgres", "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return s.URL(name)
}

// makeTemplate creates a template database with PostGIS once, which
// CREATE DATABASE copies far faster than CREATE EXTENSION postgis runs.
func (s *Server) makeTemplate() error {
	ctx := context.Background()
	if err := s.admin(ctx, "postgres", "CREATE DATABASE "+templateDB); err != nil {
		return err
	}
	if err := s.admin(ctx, templateDB, "CREATE EXTENSION postgis"); err != nil {
		return err
	}
	return s.admin(ctx, "postgres", "ALTER DATABASE "+templateDB+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")
}

// admin runs a statement as the superuser in database db.
func (s *Server) admin(ctx context.Context, db, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	c, err := pgx.Connect(ctx, s.superuserURL(db))
	if err != nil {
		return fmt.Errorf("connecting as %s to %s: %w", superuser, db, err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", strings.Replace(sql, s.rolePass, "…", 1), err)
	}
	return nil
}

// dbName makes a unique database name from a test's name.
func (s *Server) dbName(test string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	return fmt.Sprintf("t_%s_%d", b.String(), s.seq.Add(1))
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }
