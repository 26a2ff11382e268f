package keys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	idRE     = regexp.MustCompile(`^AKK[A-Z0-9]{17}$`)
	secretRE = regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`)
)

// clock is a settable clock for Store.now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func open(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func create(t testing.TB, s *Store, name string, l Limits) (Key, string) {
	t.Helper()
	k, secret, err := s.CreateWith(context.Background(), name, l)
	if err != nil {
		t.Fatal(err)
	}
	return k, secret
}

func TestCreateGetListRevoke(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	c := &clock{t: time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)}
	s.now = c.now

	var made []Key
	secrets := map[string]bool{}
	for _, name := range []string{"gallery", "directory site", "gallery"} {
		k, secret, err := s.Create(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if !idRE.MatchString(k.ID) || !secretRE.MatchString(secret) {
			t.Fatalf("id %q or secret of %d chars not in AWS form", k.ID, len(secret))
		}
		if secrets[secret] {
			t.Fatal("secret repeated")
		}
		secrets[secret] = true
		want := Key{ID: k.ID, Name: name, Created: c.now(), AST: true}
		if k != want {
			t.Errorf("Create = %+v, want %+v", k, want)
		}
		got, err := s.Get(ctx, k.ID)
		if err != nil || got != k {
			t.Errorf("Get = %+v, %v; want %+v", got, err, k)
		}
		made = append(made, k)
		c.add(time.Second)
	}

	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(list) != fmt.Sprint(made) {
		t.Errorf("List = %v, want %v", list, made)
	}

	if err := s.Revoke(ctx, made[1].ID); err != nil {
		t.Fatal(err)
	}
	revokedAt := c.now()
	c.add(time.Hour)
	if err := s.Revoke(ctx, made[1].ID); err != nil {
		t.Errorf("second Revoke: %v", err)
	}
	k, err := s.Get(ctx, made[1].ID)
	if err != nil || !k.Revoked.Equal(revokedAt) || k.Active() {
		t.Errorf("revoked key: %+v, %v; want revoked at %v", k, err, revokedAt)
	}
	list, _ = s.List(ctx)
	if len(list) != 3 || list[1].Active() || !list[0].Active() || !list[2].Active() {
		t.Errorf("List after revoke = %+v", list)
	}

	for _, tc := range []struct {
		name string
		err  error
		call func() error
	}{
		{"Get unknown", ErrUnknown, func() error { _, err := s.Get(ctx, "AKK00000000000000000"); return err }},
		{"Get malformed", ErrUnknown, func() error { _, err := s.Get(ctx, "akk00000000000000000"); return err }},
		{"Revoke unknown", ErrUnknown, func() error { return s.Revoke(ctx, "AKK00000000000000000") }},
		{"Revoke malformed", ErrUnknown, func() error { return s.Revoke(ctx, "AKK0") }},
		{"Secret revoked", ErrRevoked, func() error { _, _, err := s.Secret(ctx, made[1].ID); return err }},
		{"SetLimits revoked", ErrRevoked, func() error { return s.SetLimits(ctx, made[1].ID, 1, 1, 1, true) }},
		{"SetLimits unknown", ErrUnknown, func() error { return s.SetLimits(ctx, "AKK00000000000000000", 1, 1, 1, true) }},
		{"Usage unknown", ErrUnknown, func() error { _, err := s.Usage(ctx, "AKK00000000000000000"); return err }},
		{"OverQuota unknown", ErrUnknown, func() error { _, err := s.OverQuota(ctx, "AKK00000000000000000"); return err }},
	} {
		if err := tc.call(); !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
}

func TestCreateRefuses(t *testing.T) {
	s := open(t, t.TempDir())
	for _, tc := range []struct {
		name string
		l    Limits
	}{
		{"", Limits{}},
		{"tab\there", Limits{}},
		{strings.Repeat("x", 201), Limits{}},
		{"ok", Limits{Rate: -1}},
		{"ok", Limits{Burst: -1}},
		{"ok", Limits{Quota: -1}},
	} {
		if k, _, err := s.CreateWith(context.Background(), tc.name, tc.l); !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateWith(%q, %+v) = %s, %v; want ErrInvalid", tc.name, tc.l, k.ID, err)
		}
	}
	if list, _ := s.List(context.Background()); len(list) != 0 {
		t.Errorf("refused keys were stored: %v", list)
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	k, secret := create(t, s, "site", Limits{AST: true})
	revoked, revokedSecret := create(t, s, "old", Limits{AST: true})
	if err := s.Revoke(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		b[i] ^= 1
		return string(b)
	}
	for _, tc := range []struct {
		name, id, secret string
		err              error
	}{
		{"right", k.ID, secret, nil},
		{"first byte wrong", k.ID, flip(secret, 0), ErrBadSecret},
		{"last byte wrong", k.ID, flip(secret, 39), ErrBadSecret},
		{"short", k.ID, secret[:39], ErrBadSecret},
		{"long", k.ID, secret + "A", ErrBadSecret},
		{"empty", k.ID, "", ErrBadSecret},
		{"another key's secret", k.ID, revokedSecret, ErrBadSecret},
		{"unknown", "AKK00000000000000000", secret, ErrUnknown},
		{"malformed", secret, secret, ErrUnknown},
		{"revoked", revoked.ID, revokedSecret, ErrRevoked},
	} {
		got, err := s.Authenticate(ctx, tc.id, tc.secret)
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
		if err == nil && got != k {
			t.Errorf("%s: key %+v, want %+v", tc.name, got, k)
		}
		// Neither the secret tried nor the right one may show in errors.
		if err != nil && (strings.Contains(err.Error(), secret) || tc.secret != "" && strings.Contains(err.Error(), tc.secret)) {
			t.Errorf("%s: error %q shows a secret", tc.name, err)
		}
	}
	_, got, err := s.Secret(ctx, k.ID)
	if err != nil || string(got) != secret {
		t.Errorf("Secret: %v, right secret: %v", err, string(got) == secret)
	}
}

// TestEncryptedAtRest reads every file the store wrote and looks for the
// secrets; then reopens the store and uses them.
func TestEncryptedAtRest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids, secrets []string
	for i := range 5 {
		k, secret := create(t, s, fmt.Sprint("key ", i), Limits{})
		ids, secrets = append(ids, k.ID), append(secrets, secret)
	}
	check := func(when string) {
		files, _ := filepath.Glob(filepath.Join(dir, "kiln.db*"))
		if len(files) == 0 {
			t.Fatal("no database files")
		}
		var all []byte
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		if !bytes.Contains(all, []byte(ids[0])) {
			t.Fatalf("%s: key id not in the database files; wrong files?", when)
		}
		for _, secret := range secrets {
			if bytes.Contains(all, []byte(secret)) || bytes.Contains(all, []byte(secret[:16])) {
				t.Errorf("%s: a secret is stored in clear", when)
			}
		}
	}
	check("open") // WAL and database as they are while serving
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check("closed")

	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Fatalf("kiln.key: %v, %v", fi, err)
	}
	s = open(t, dir)
	for i, id := range ids {
		if _, err := s.Authenticate(ctx, id, secrets[i]); err != nil {
			t.Errorf("after reopening: %v", err)
		}
	}
}

func TestMasterKeyFile(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) // after a store made a key and closed
		want  string                         // in the error; "" for none
	}{
		{"0600", func(t *testing.T, dir string) {}, ""},
		{"0400", func(t *testing.T, dir string) { chmod(t, dir, 0o400) }, ""},
		{"0644", func(t *testing.T, dir string) { chmod(t, dir, 0o644) }, "has mode 0644, wider than 0600: refusing to start"},
		{"0640", func(t *testing.T, dir string) { chmod(t, dir, 0o640) }, "has mode 0640, wider than 0600"},
		{"0601", func(t *testing.T, dir string) { chmod(t, dir, 0o601) }, "has mode 0601, wider than 0600"},
		{"missing", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, KeyFile)) }, "kiln.key is missing"},
		{"short", func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, KeyFile), make([]byte, 31), 0o600) }, "want 32 bytes"},
		{"another key", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, KeyFile), bytes.Repeat([]byte{7}, 32), 0o600)
		}, "is not the master key"},
		{"directory", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, KeyFile))
			os.Mkdir(filepath.Join(dir, KeyFile), 0o700)
		}, "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			k, secret := create(t, s, "k", Limits{})
			s.Close()
			tc.setup(t, dir)
			s, err = Open(ctx, dir)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				if _, err := s.Authenticate(ctx, k.ID, secret); err != nil {
					t.Error(err)
				}
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Join(dir, KeyFile)) {
				t.Errorf("error %q, want the file and %q", err, tc.want)
			}
		})
	}
}

func chmod(t *testing.T, dir string, mode os.FileMode) {
	if err := os.Chmod(filepath.Join(dir, KeyFile), mode); err != nil {
		t.Fatal(err)
	}
}

// TestOpenRace opens one fresh data directory from many stores at once, as
// a server and kiln keys starting together would: all must agree on one
// master key.
func TestOpenRace(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const n = 8
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(ctx, dir) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		defer stores[i].Close()
	}
	k, secret := create(t, stores[0], "k", Limits{})
	for _, s := range stores {
		if _, err := s.Authenticate(ctx, k.ID, secret); err != nil {
			t.Error(err)
		}
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".kiln.key-*")); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

// TestTwoStores is a server and kiln keys on one data directory: what one
// revokes or limits, the other sees at the next request.
func TestTwoStores(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	server, admin := open(t, dir), open(t, dir)
	k, secret := create(t, admin, "k", Limits{AST: true})
	if _, err := server.Authenticate(ctx, k.ID, secret); err != nil {
		t.Fatal(err)
	}
	if !server.Allow(k.ID) || !server.Allow(k.ID) {
		t.Fatal("unlimited key refused")
	}
	if err := admin.SetLimits(ctx, k.ID, 0.001, 1, 0, true); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Authenticate(ctx, k.ID, secret); err != nil {
		t.Fatal(err)
	}
	if !server.Allow(k.ID) || server.Allow(k.ID) {
		t.Error("limits set by another store not applied after Authenticate")
	}
	if err := admin.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Authenticate(ctx, k.ID, secret); !errors.Is(err, ErrRevoked) {
		t.Errorf("Authenticate after revocation elsewhere: %v", err)
	}
	if _, _, err := server.Secret(ctx, k.ID); !errors.Is(err, ErrRevoked) {
		t.Errorf("Secret after revocation elsewhere: %v", err)
	}
	if server.Allow(k.ID) {
		t.Error("revoked key allowed")
	}
}

func TestUsageAcrossMonths(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	c := &clock{t: time.Date(2026, 10, 31, 23, 59, 59, 500e6, time.UTC)}
	s.now = c.now
	k, _ := create(t, s, "k", Limits{Quota: 5})
	other, _ := create(t, s, "other", Limits{})

	october := c.now()
	must(t, s.Record(ctx, k.ID, 3, 2))
	must(t, s.Record(ctx, other.ID, 1, 1))
	c.set(time.Date(2026, 11, 1, 0, 0, 0, 500e6, time.UTC)) // no flush in between
	november := c.now()
	must(t, s.Record(ctx, k.ID, 1, 1))

	for _, tc := range []struct {
		name        string
		at          time.Time
		id          string
		want        Usage
		overQuota   bool
		thenRecord  int64 // thumbnails recorded after the check
		thenOverQuo bool
	}{
		{"november", november, k.ID, Usage{Month: "2026-11", Requests: 1, Thumbnails: 1, LastUsed: november}, false, 4, true},
		{"october", october, k.ID, Usage{Month: "2026-10", Requests: 3, Thumbnails: 2, LastUsed: november}, false, 3, true},
		{"december", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), k.ID, Usage{Month: "2026-12", LastUsed: november}, false, 4, false},
		{"other key", november, other.ID, Usage{Month: "2026-11", LastUsed: october}, false, 0, false},
	} {
		c.set(tc.at)
		u, err := s.Usage(ctx, tc.id)
		if err != nil || u != tc.want {
			t.Errorf("%s: Usage = %+v, %v; want %+v", tc.name, u, err, tc.want)
		}
		if over, err := s.OverQuota(ctx, tc.id); err != nil || over != tc.overQuota {
			t.Errorf("%s: OverQuota = %v, %v", tc.name, over, err)
		}
		if tc.thenRecord > 0 {
			must(t, s.Record(ctx, tc.id, tc.thenRecord, tc.thenRecord))
		}
		// Counted while pending and after a flush alike.
		for _, when := range []string{"pending", "flushed"} {
			if over, err := s.OverQuota(ctx, tc.id); err != nil || over != tc.thenOverQuo {
				t.Errorf("%s: %s: OverQuota = %v, %v; want %v", tc.name, when, over, err, tc.thenOverQuo)
			}
			must(t, s.flush(ctx))
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestRecordRefuses(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	k, _ := create(t, s, "k", Limits{})
	if err := s.Record(ctx, k.ID, -1, 0); !errors.Is(err, ErrInvalid) {
		t.Error("negative usage recorded")
	}
	if err := s.Record(ctx, "nope", 1, 0); !errors.Is(err, ErrUnknown) {
		t.Errorf("malformed id: %v", err)
	}
	// An unknown but well-formed id is dropped at the flush, not kept
	// failing it.
	must(t, s.Record(ctx, "AKK00000000000000000", 1, 1))
	must(t, s.Record(ctx, k.ID, 1, 1))
	must(t, s.flush(ctx))
	if u, err := s.Usage(ctx, k.ID); err != nil || u.Requests != 1 {
		t.Errorf("Usage = %+v, %v", u, err)
	}
	s.Close()
	if err := s.Record(ctx, k.ID, 1, 0); err == nil {
		t.Error("Record after Close succeeded")
	}
}

// TestFlush checks that counts reach the database by themselves within
// about a second, and at Close.
func TestFlush(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := create(t, s, "k", Limits{})
	must(t, s.Record(ctx, k.ID, 2, 1))
	stored := func() int64 {
		var n int64
		s.db.QueryRowContext(ctx, `SELECT COALESCE(sum(requests), 0) FROM api_usage WHERE id = ?`, k.ID).Scan(&n)
		return n
	}
	deadline := time.Now().Add(5 * time.Second)
	for stored() != 2 {
		if time.Now().After(deadline) {
			t.Fatal("usage not flushed within 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	must(t, s.Record(ctx, k.ID, 3, 0))
	must(t, s.Close())
	s = open(t, dir)
	if u, err := s.Usage(ctx, k.ID); err != nil || u.Requests != 5 || u.Thumbnails != 1 {
		t.Errorf("after Close and reopening: %+v, %v", u, err)
	}
}

func TestAllow(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	c := &clock{t: time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)}
	s.now = c.now
	revoked, _ := create(t, s, "revoked", Limits{Rate: 100})
	must(t, s.Revoke(ctx, revoked.ID))

	type step struct {
		after time.Duration // clock advance before the calls
		calls int
		want  int // allowed among calls
	}
	for _, tc := range []struct {
		name  string
		l     Limits
		id    string // instead of a new key's
		steps []step
	}{
		{"unlimited", Limits{}, "", []step{{0, 1000, 1000}}},
		{"1/s burst 3", Limits{Rate: 1, Burst: 3}, "", []step{{0, 5, 3}, {time.Second, 5, 1}, {10 * time.Second, 5, 3}}},
		{"2.5/s default burst", Limits{Rate: 2.5}, "", []step{{0, 5, 3}, {400 * time.Millisecond, 2, 1}}},
		{"0.1/s", Limits{Rate: 0.1}, "", []step{{0, 2, 1}, {5 * time.Second, 1, 0}, {5 * time.Second, 1, 1}}},
		{"revoked", Limits{}, revoked.ID, []step{{0, 3, 0}}},
		{"unknown", Limits{}, "AKK00000000000000000", []step{{0, 3, 0}}},
		{"malformed", Limits{}, "x", []step{{0, 3, 0}}},
	} {
		id := tc.id
		if id == "" {
			k, _ := create(t, s, tc.name, tc.l)
			id = k.ID
		}
		for i, st := range tc.steps {
			c.add(st.after)
			n := 0
			for range st.calls {
				if s.Allow(id) {
					n++
				}
			}
			if n != st.want {
				t.Errorf("%s: step %d: %d of %d allowed, want %d", tc.name, i, n, st.calls, st.want)
			}
		}
	}

	// New limits take effect at once, with a fresh bucket.
	k, _ := create(t, s, "changing", Limits{Rate: 1, Burst: 1})
	if !s.Allow(k.ID) || s.Allow(k.ID) {
		t.Fatal("1/s burst 1 misbehaves")
	}
	must(t, s.SetLimits(ctx, k.ID, 1, 4, 0, true))
	n := 0
	for range 10 {
		if s.Allow(k.ID) {
			n++
		}
	}
	if n != 4 {
		t.Errorf("after SetLimits burst 4: %d allowed", n)
	}
	must(t, s.SetLimits(ctx, k.ID, 0, 0, 0, true))
	if !s.Allow(k.ID) {
		t.Error("unlimited after SetLimits refused")
	}
	if got, _ := s.Get(ctx, k.ID); got.Rate != 0 || got.Burst != 0 || !got.AST {
		t.Errorf("SetLimits stored %+v", got)
	}
	must(t, s.SetLimits(ctx, k.ID, 3, 2, 9, false))
	if got, _ := s.Get(ctx, k.ID); got.Rate != 3 || got.Burst != 2 || got.Quota != 9 || got.AST {
		t.Errorf("SetLimits stored %+v", got)
	}
	if err := s.SetLimits(ctx, k.ID, -1, 0, 0, true); !errors.Is(err, ErrInvalid) {
		t.Error("negative rate accepted")
	}
}

// TestConcurrent runs requests from many goroutines (run with -race)
// while keys are created, limited and revoked, and checks that no count
// is lost.
func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	k, secret := create(t, s, "busy", Limits{Rate: 1e6, Quota: 1 << 40})
	const workers, requests = 16, 200
	var wg sync.WaitGroup
	errs := make(chan error, workers+1)
	for range workers {
		wg.Go(func() {
			for range requests {
				if _, err := s.Authenticate(ctx, k.ID, secret); err != nil {
					errs <- err
					return
				}
				s.Allow(k.ID)
				if _, err := s.OverQuota(ctx, k.ID); err != nil {
					errs <- err
					return
				}
				if err := s.Record(ctx, k.ID, 1, 1); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			other, _, err := s.Create(ctx, fmt.Sprint("other ", i))
			if err == nil {
				err = s.SetLimits(ctx, other.ID, 5, 1, 0, false)
			}
			if err == nil {
				err = s.Revoke(ctx, other.ID)
			}
			if err == nil {
				_, err = s.Usage(ctx, k.ID) // flushes while others record
			}
			if err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	u, err := s.Usage(ctx, k.ID)
	if err != nil || u.Requests != workers*requests || u.Thumbnails != workers*requests {
		t.Errorf("Usage = %+v, %v; want %d each", u, err, workers*requests)
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	s := open(b, b.TempDir())
	k, secret := create(b, s, "bench", Limits{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Authenticate(ctx, k.ID, secret); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkAllow(b *testing.B) {
	for _, l := range []Limits{{}, {Rate: 1e9, Burst: 1e9}} {
		b.Run(fmt.Sprintf("rate=%g", l.Rate), func(b *testing.B) {
			s := open(b, b.TempDir())
			k, _ := create(b, s, "bench", l)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if !s.Allow(k.ID) {
						b.Error("refused")
						return
					}
				}
			})
		})
	}
}

// BenchmarkRequest is the whole per-request path of the AST API.
func BenchmarkRequest(b *testing.B) {
	ctx := context.Background()
	s := open(b, b.TempDir())
	k, _ := create(b, s, "bench", Limits{Rate: 1e9, Burst: 1e9, Quota: 1 << 40})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.Secret(ctx, k.ID); err != nil {
				b.Error(err)
				return
			}
			s.Allow(k.ID)
			s.OverQuota(ctx, k.ID)
			s.Record(ctx, k.ID, 1, 1)
		}
	})
}
