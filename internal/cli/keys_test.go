package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"kiln/internal/keys"
)

var createdRE = regexp.MustCompile(`^access_key_id: (AKK[A-Z0-9]{17})\nsecret_access_key: ([A-Za-z0-9+/]{40})\n$`)

// createKey runs kiln keys create and returns the id and secret it printed.
func createKey(t *testing.T, args ...string) (string, string) {
	t.Helper()
	code, out, errs := run(t, "", append([]string{"keys"}, args...)...)
	m := createdRE.FindStringSubmatch(out)
	if code != 0 || m == nil || errs != "" {
		t.Fatalf("keys %v: %d\nstdout %q\nstderr %q", args, code, out, errs)
	}
	return m[1], m[2]
}

func TestKeys(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "new", "data") // created by the command
	id1, secret1 := createKey(t, "--data", data, "create", "gallery")
	id2, _ := createKey(t, "--data", data, "create", "directory site", "--rate", "2.5", "--burst", "4", "--quota", "1000", "--no-ast")
	id3, _ := createKey(t, "create", "--quota", "7", "third", "--data", data) // flags on both sides of NAME

	s, err := keys.Open(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id   string
		want keys.Key
	}{
		{id1, keys.Key{ID: id1, Name: "gallery", AST: true, Rate: 10, Burst: 40}}, // thumbnails.rate and burst
		{id2, keys.Key{ID: id2, Name: "directory site", Rate: 2.5, Burst: 4, Quota: 1000}},
		{id3, keys.Key{ID: id3, Name: "third", Quota: 7, AST: true, Rate: 10, Burst: 40}},
	} {
		k, err := s.Get(ctx, tc.id)
		tc.want.Created = k.Created
		if err != nil || k != tc.want || time.Since(k.Created) > time.Minute {
			t.Errorf("stored %+v, %v; want %+v", k, err, tc.want)
		}
	}
	if _, err := s.Authenticate(ctx, id1, secret1); err != nil {
		t.Errorf("printed secret refused: %v", err)
	}
	if err := s.Record(ctx, id1, 12, 3); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	code, out, errs := run(t, "", "keys", "--data", data, "revoke", id3)
	if code != 0 || out != "revoked "+id3+"\n" || errs != "" {
		t.Errorf("revoke: %d %q %q", code, out, errs)
	}

	code, out, errs = run(t, "", "keys", "list", "--data", data)
	if code != 0 || errs != "" {
		t.Fatalf("list: %d %q", code, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("list: want a header and 3 keys:\n%s", out)
	}
	if f := strings.Fields(lines[0]); strings.Join(f, " ") != "ID NAME CREATED STATUS REQUESTS THUMBNAILS QUOTA RATE BURST AST" {
		t.Errorf("list header %q", lines[0])
	}
	created := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`
	for i, want := range []string{
		id1 + ` +gallery +` + created + ` +active +12 +3 +unlimited +10/s +40 +yes`,
		id2 + ` +directory site +` + created + ` +active +0 +0 +1000 +2.5/s +4 +no`,
		id3 + ` +third +` + created + ` +revoked +0 +0 +7 +10/s +40 +yes`,
	} {
		if !regexp.MustCompile("^" + want + "$").MatchString(lines[i+1]) {
			t.Errorf("list line %d:\n%s\nwant %s", i+1, lines[i+1], want)
		}
	}

	s, err = keys.Open(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Authenticate(ctx, id3, "x"); !errors.Is(err, keys.ErrRevoked) {
		t.Errorf("revoked key: %v", err)
	}
}

func TestKeysConfig(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "kiln.toml")
	os.WriteFile(cfg, []byte("data = \""+data+"\"\n"), 0o644)
	id, _ := createKey(t, "--config", cfg, "create", "k")
	code, out, _ := run(t, "", "keys", "list", "--config", cfg)
	if code != 0 || !strings.Contains(out, id) {
		t.Errorf("list with --config: %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(data, "kiln.key")); err != nil {
		t.Errorf("key not made in the configuration's data directory: %v", err)
	}
}

func TestKeysErrors(t *testing.T) {
	data := t.TempDir()
	_, secret := createKey(t, "--data", data, "create", "k")
	wideKey := t.TempDir()
	createKey(t, "--data", wideKey, "create", "k")
	os.Chmod(filepath.Join(wideKey, "kiln.key"), 0o644)

	for _, tc := range []struct {
		args []string
		code int
		last string // last line of stderr
	}{
		{[]string{"keys"}, 2, "kiln: keys: want a sub-command: create NAME, list or revoke ID"},
		{[]string{"keys", "--data", data, "rotate"}, 2, `kiln: keys: unknown sub-command "rotate": want create, list, revoke or sign`},
		{[]string{"keys", "--data", data, "revoke", "AKK00000000000000000"}, 2, "kiln: keys: no key AKK00000000000000000"},
		{[]string{"keys", "--data", data, "revoke", secret}, 2, "kiln: keys: revoke: not a key id (20 upper-case letters and digits starting AKK)"},
		{[]string{"keys", "--data", data, "revoke"}, 2, "kiln: keys: revoke needs a key ID"},
		{[]string{"keys", "--data", data, "create"}, 2, "kiln: keys: create needs a NAME"},
		{[]string{"keys", "--data", data, "create", "a", "b"}, 2, `kiln: keys: create: unexpected argument "b"`},
		{[]string{"keys", "--data", data, "list", "x"}, 2, `kiln: keys: list: unexpected argument "x"`},
		{[]string{"keys", "--data", data, "create", "a", "--rate", "-1"}, 2, "kiln: keys: --rate -1: want requests per second, 0 for unlimited"},
		{[]string{"keys", "--data", data, "create", "a", "--quota", "-5"}, 2, "kiln: keys: --quota -5: want thumbnails per month, 0 for unlimited"},
		{[]string{"keys", "--data", data, "create", "a", "--quota", "many"}, 2, `kiln: keys: invalid value "many" for flag -quota: parse error`},
		{[]string{"keys", "--data", data, "list", "--rate", "1"}, 2, "kiln: keys: flag provided but not defined: -rate"},
		{[]string{"keys", "--data", data, "create", "tab\there"}, 2, "kiln: keys: key name has control characters"},
		{[]string{"keys", "--data", wideKey, "list"}, 1, "kiln: keys: master key " + filepath.Join(wideKey, "kiln.key") + " has mode 0644, wider than 0600: refusing to start (chmod 600 " + filepath.Join(wideKey, "kiln.key") + ")"},
		{[]string{"keys", "-h"}, 0, "    \tsign: how long the URL works (0: thumbnails.signed_url_ttl)"},
	} {
		code, out, errs := run(t, "", tc.args...)
		lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
		if code != tc.code || lines[len(lines)-1] != tc.last || out != "" {
			t.Errorf("%q: %d, stdout %q, stderr:\n%s\nwant %d and %q", tc.args, code, out, errs, tc.code, tc.last)
		}
		if strings.Contains(errs, secret) {
			t.Errorf("%q: stderr shows a secret", tc.args)
		}
	}
	// Nothing was made by the refused commands.
	code, out, _ := run(t, "", "keys", "--data", data, "list")
	if n := strings.Count(out, "\n"); code != 0 || n != 2 {
		t.Errorf("after refused commands, list has %d lines:\n%s", n, out)
	}
}
