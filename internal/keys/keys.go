// Package keys owns kiln's API keys: the key ids and secrets that clients
// of the thumbnail API and of the Alexa Site Thumbnail (AST) compatible API
// present, each key's limits (request rate, monthly thumbnail quota, AST
// access) and its monthly usage.
//
// Keys live in DATA/kiln.db (SQLite, WAL). AST signs requests with
// HMAC-SHA1 keyed by the secret itself, so the server must be able to
// recompute signatures and a hash of the secret would not do: secrets are
// stored encrypted with AES-256-GCM under a master key kept in DATA/kiln.key
// (32 random bytes, mode 0600). A fingerprint of the master key in kiln.db
// stops kiln from starting with a kiln.key that does not belong to it.
// Secrets never appear in errors or logs; a key id may.
//
// Every Authenticate and Secret reads the key's row, so a revocation, also
// by another process such as kiln keys, takes effect at the next request.
// Rate limits are token buckets in memory, per process, brought up to date
// with the key's limits whenever its row is read.
//
// Usage counts are batched, as Record runs once per request: it adds to
// counts in memory, which a goroutine writes to kiln.db every second in one
// transaction, and Usage (before reading) and Close at once. OverQuota adds
// the unwritten counts to the stored ones. A crash loses at most the last
// second's counts; a failed write keeps them for the next.
package keys

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// Errors that callers tell apart (with errors.Is): an unknown or malformed
// key id, a revoked key, a secret that does not match, a bad name or limit
// given to the store.
var (
	ErrUnknown   = errors.New("no such key")
	ErrRevoked   = errors.New("key revoked")
	ErrBadSecret = errors.New("wrong secret")
	ErrInvalid   = errors.New("invalid key settings")
)

// invalidError is bad input from the caller; it matches ErrInvalid but
// reads as its own message.
type invalidError struct{ err error }

func (e invalidError) Error() string        { return e.err.Error() }
func (e invalidError) Unwrap() error        { return e.err }
func (e invalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return invalidError{fmt.Errorf(format, args...)}
}

const (
	// DBFile and KeyFile are the files Open uses in the data directory.
	DBFile  = "kiln.db"
	KeyFile = "kiln.key"

	idPrefix   = "AKK"
	idLen      = 20 // as AWS and AST access key ids
	secretLen  = 40 // as AWS secret access keys: base64 of 30 random bytes
	masterSize = 32 // AES-256
	maxNameLen = 200

	flushEvery = time.Second
)

// Key is an API key without its secret.
type Key struct {
	ID      string    // 20 upper-case letters and digits starting "AKK"
	Name    string    // what the key is for, as its creator said
	Created time.Time // UTC
	Revoked time.Time // UTC; zero while the key is active
	AST     bool      // may use the AST-compatible API
	Rate    float64   // requests per second allowed (0: unlimited)
	Burst   int       // requests allowed at once above Rate (0: Rate rounded up, at least 1)
	Quota   int64     // billed thumbnails per calendar month, UTC (0: unlimited)
}

// Active reports whether the key is not revoked.
func (k Key) Active() bool { return k.Revoked.IsZero() }

// Limits are what a key may do; Options gives the defaults of new keys.
type Limits struct {
	Rate  float64 // requests per second (0: unlimited)
	Burst int     // 0: Rate rounded up, at least 1
	Quota int64   // billed thumbnails per calendar month, UTC (0: unlimited)
	AST   bool    // may use the AST-compatible API
}

func (l Limits) check() error {
	switch {
	case math.IsNaN(l.Rate) || math.IsInf(l.Rate, 0) || l.Rate < 0:
		return invalidf("rate %v: want requests per second, 0 for unlimited", l.Rate)
	case l.Burst < 0:
		return invalidf("burst %d: want 0 or more", l.Burst)
	case l.Quota < 0:
		return invalidf("quota %d: want thumbnails per month, 0 for unlimited", l.Quota)
	}
	return nil
}

// Options are a store's defaults for new keys: Rate, Burst and Quota as in
// Limits; new keys may use the AST API.
type Options struct {
	Rate  float64
	Burst int
	Quota int64
}

// Usage is what a key did in one calendar month (UTC).
type Usage struct {
	Month      string // "2026-11"
	Requests   int64
	Thumbnails int64     // billed thumbnails (AST: answers with Exists=true)
	LastUsed   time.Time // last request ever, in any month; zero if never used
}

// Store is the key database. It is safe for concurrent use.
type Store struct {
	db     *sql.DB
	lookup *sql.Stmt // the per-request queries
	quota  *sql.Stmt
	aead   cipher.AEAD
	def    Limits
	now    func() time.Time // the clock; tests move it across months

	wmu sync.Mutex // serialises this process's write transactions

	// Usage counts wait in pending until flushed. fmu is held for writing
	// while a flush moves counts from pending to the database, and for
	// reading by OverQuota, so that database plus pending is always the
	// whole count.
	fmu     sync.RWMutex
	umu     sync.Mutex
	pending map[usageKey]*counts
	closed  bool

	lmu      sync.RWMutex
	limiters map[string]*limiter

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Open opens the key database in dataDir (which must exist), creating its
// tables and the master key file when missing. New keys get no limits.
func Open(ctx context.Context, dataDir string) (*Store, error) {
	return OpenOptions(ctx, dataDir, Options{})
}

// OpenOptions is Open with defaults for new keys.
func OpenOptions(ctx context.Context, dataDir string, opt Options) (*Store, error) {
	def := Limits{Rate: opt.Rate, Burst: opt.Burst, Quota: opt.Quota, AST: true}
	if err := def.check(); err != nil {
		return nil, fmt.Errorf("key defaults: %w", err)
	}
	dbPath := filepath.Join(dataDir, DBFile)
	q := url.Values{}
	// FULL: a key shown to its owner must survive a power cut. Immediate
	// transactions take the write lock at BEGIN, so concurrent writers wait
	// (busy_timeout) instead of failing to upgrade a read lock.
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(30000)", "synchronous(FULL)", "foreign_keys(ON)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+dbPath+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("key database %s: %w", dbPath, err)
	}
	// Kept open: a new connection costs its pragmas and prepared queries,
	// far more than the per-request queries themselves.
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	s := &Store{
		db:       db,
		def:      def,
		now:      time.Now,
		pending:  map[usageKey]*counts{},
		limiters: map[string]*limiter{},
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if err := s.init(ctx, dataDir, dbPath); err != nil {
		db.Close()
		return nil, err
	}
	go s.flusher()
	return s, nil
}

const schema = `
CREATE TABLE IF NOT EXISTS api_master (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	fingerprint BLOB NOT NULL -- HMAC of the master key, to recognise kiln.key
);
CREATE TABLE IF NOT EXISTS api_keys (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	created INTEGER NOT NULL, -- Unix nanoseconds
	revoked INTEGER NOT NULL DEFAULT 0, -- Unix nanoseconds, 0 while active
	secret BLOB, -- nonce + AES-256-GCM(secret), id as additional data; NULL once revoked
	ast INTEGER NOT NULL,
	rate REAL NOT NULL,
	burst INTEGER NOT NULL,
	quota INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_usage (
	id TEXT NOT NULL REFERENCES api_keys (id),
	month TEXT NOT NULL, -- "2026-11", UTC
	requests INTEGER NOT NULL,
	thumbnails INTEGER NOT NULL,
	last_used INTEGER NOT NULL, -- Unix nanoseconds
	PRIMARY KEY (id, month)
) WITHOUT ROWID;
`

// init creates the tables, loads or creates the master key and checks it
// against the fingerprint in the database.
func (s *Store) init(ctx context.Context, dataDir, dbPath string) error {
	if err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, schema)
		return err
	}); err != nil {
		return fmt.Errorf("key database %s: %w", dbPath, err)
	}
	var stored []byte
	err := s.db.QueryRowContext(ctx, `SELECT fingerprint FROM api_master WHERE id = 1`).Scan(&stored)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("key database %s: %w", dbPath, err)
	}
	keyPath := filepath.Join(dataDir, KeyFile)
	// Once the database knows a master key, a missing file means it was
	// lost: making a new one would strand every stored secret.
	master, err := loadMaster(keyPath, stored == nil)
	if err != nil {
		return err
	}
	fp := derive(master, "kiln keys: master key fingerprint")
	if stored == nil {
		if err := s.tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO api_master (id, fingerprint) VALUES (1, ?)`, fp)
			return err
		}); err != nil {
			return fmt.Errorf("key database %s: %w", dbPath, err)
		}
		// Another process may have got there first.
		if err := s.db.QueryRowContext(ctx, `SELECT fingerprint FROM api_master WHERE id = 1`).Scan(&stored); err != nil {
			return fmt.Errorf("key database %s: %w", dbPath, err)
		}
	}
	if !hmac.Equal(stored, fp) {
		return fmt.Errorf("%s is not the master key that encrypted the secrets in %s: restore the original", keyPath, dbPath)
	}
	block, err := aes.NewCipher(derive(master, "kiln keys: secret encryption"))
	if err != nil {
		return err
	}
	if s.aead, err = cipher.NewGCM(block); err != nil {
		return err
	}
	clear(master)
	if s.lookup, err = s.db.PrepareContext(ctx, `SELECT name, created, revoked, secret, ast, rate, burst, quota FROM api_keys WHERE id = ?`); err != nil {
		return fmt.Errorf("key database %s: %w", dbPath, err)
	}
	if s.quota, err = s.db.PrepareContext(ctx, `SELECT k.quota, COALESCE(u.thumbnails, 0)
		FROM api_keys k LEFT JOIN api_usage u ON u.id = k.id AND u.month = ?
		WHERE k.id = ?`); err != nil {
		return fmt.Errorf("key database %s: %w", dbPath, err)
	}
	return nil
}

// loadMaster reads the master key at path, or creates it if it is missing
// and create is set. It refuses a file others may read.
func loadMaster(path string, create bool) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		if !create {
			return nil, fmt.Errorf("%s is missing, but the key database holds secrets encrypted with it: restore it", path)
		}
		return createMaster(path)
	}
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("master key %s is not a regular file", path)
	}
	if m := fi.Mode().Perm(); m&^0o600 != 0 {
		return nil, fmt.Errorf("master key %s has mode %04o, wider than 0600: refusing to start (chmod 600 %s)", path, m, path)
	}
	key, err := io.ReadAll(io.LimitReader(f, masterSize+1))
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if len(key) != masterSize {
		return nil, fmt.Errorf("master key %s: want %d bytes", path, masterSize)
	}
	return key, nil
}

// createMaster writes a new master key to a temporary file and links it
// into place: unlike a rename, a link never replaces a key another process
// has just created (it fails, and that process's key is read instead).
func createMaster(path string) ([]byte, error) {
	key := make([]byte, masterSize)
	rand.Read(key)
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".kiln.key-*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(key)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	err = os.Link(tmp.Name(), path)
	switch {
	case errors.Is(err, fs.ErrExist):
		return loadMaster(path, false)
	case err != nil:
		// No hard links here (some network and FUSE file systems).
		if err := os.Rename(tmp.Name(), path); err != nil {
			return nil, fmt.Errorf("master key: %w", err)
		}
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return key, nil
}

// derive is HMAC-SHA256(master, label): independent keys for independent
// uses of one master key.
func derive(master []byte, label string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// Close flushes the usage counts and closes the database.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.umu.Lock()
		s.closed = true
		s.umu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.closeErr = s.flush(ctx)
		for _, st := range []*sql.Stmt{s.lookup, s.quota} {
			if st != nil {
				st.Close()
			}
		}
		if err := s.db.Close(); s.closeErr == nil {
			s.closeErr = err
		}
	})
	return s.closeErr
}

// tx runs fn in a write transaction: all of it or nothing.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Defaults returns the limits Create gives new keys.
func (s *Store) Defaults() Limits { return s.def }

// Create makes a key with the store's default limits and returns it with
// its secret, which is never shown again.
func (s *Store) Create(ctx context.Context, name string) (Key, string, error) {
	return s.CreateWith(ctx, name, s.def)
}

// CreateWith makes a key with the given limits and returns it with its
// secret.
func (s *Store) CreateWith(ctx context.Context, name string, l Limits) (Key, string, error) {
	if err := checkName(name); err != nil {
		return Key{}, "", err
	}
	if err := l.check(); err != nil {
		return Key{}, "", err
	}
	secret := newSecret()
	k := Key{Name: name, Created: s.now().UTC(), AST: l.AST, Rate: l.Rate, Burst: l.Burst, Quota: l.Quota}
	// 36^17 ids: a clash is all but impossible, but costs nothing to handle.
	for range 5 {
		k.ID = newID()
		n := nonce(s.aead)
		sealed := s.aead.Seal(n, n, []byte(secret), []byte(k.ID)) // nonce, then ciphertext
		var added int64
		err := s.tx(ctx, func(tx *sql.Tx) error {
			r, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, name, created, secret, ast, rate, burst, quota)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
				k.ID, k.Name, k.Created.UnixNano(), sealed, k.AST, k.Rate, k.Burst, k.Quota)
			if err != nil {
				return err
			}
			added, err = r.RowsAffected()
			return err
		})
		if err != nil {
			return Key{}, "", fmt.Errorf("create key: %w", err)
		}
		if added == 1 {
			s.observe(k)
			return k, secret, nil
		}
	}
	return Key{}, "", errors.New("create key: no free key id after 5 tries")
}

func checkName(name string) error {
	switch {
	case name == "":
		return invalidf("a key needs a name")
	case len(name) > maxNameLen:
		return invalidf("key name longer than %d bytes", maxNameLen)
	case !utf8.ValidString(name):
		return invalidf("key name is not UTF-8")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return invalidf("key name has control characters")
		}
	}
	return nil
}

const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func newID() string {
	b := make([]byte, idLen)
	copy(b, idPrefix)
	var r [1]byte
	for i := len(idPrefix); i < idLen; {
		rand.Read(r[:])
		if r[0] < 252 { // 7*36: no bias
			b[i] = idChars[r[0]%36]
			i++
		}
	}
	return string(b)
}

// ValidID reports whether id has the form of a key id. Malformed ids never
// reach the database, nor errors (one may be a mistyped secret).
func ValidID(id string) bool {
	if len(id) != idLen || id[:len(idPrefix)] != idPrefix {
		return false
	}
	for i := len(idPrefix); i < idLen; i++ {
		if c := id[i]; !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

var errMalformed = fmt.Errorf("malformed key id (want %d letters and digits starting %s): %w", idLen, idPrefix, ErrUnknown)

// newSecret returns 40 characters of [A-Za-z0-9+/], 240 random bits.
func newSecret() string {
	b := make([]byte, secretLen*3/4)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func nonce(a cipher.AEAD) []byte {
	n := make([]byte, a.NonceSize())
	rand.Read(n)
	return n
}

// load reads key id and its secret, still sealed (nil once revoked).
func (s *Store) load(ctx context.Context, id string) (Key, []byte, error) {
	if !ValidID(id) {
		return Key{}, nil, errMalformed
	}
	k := Key{ID: id}
	var created, revoked int64
	var sealed []byte
	err := s.lookup.QueryRowContext(ctx, id).Scan(&k.Name, &created, &revoked, &sealed, &k.AST, &k.Rate, &k.Burst, &k.Quota)
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, nil, fmt.Errorf("key %s: %w", id, ErrUnknown)
	}
	if err != nil {
		return Key{}, nil, fmt.Errorf("key %s: %w", id, err)
	}
	k.Created = time.Unix(0, created).UTC()
	if revoked != 0 {
		k.Revoked = time.Unix(0, revoked).UTC()
	}
	s.observe(k)
	return k, sealed, nil
}

// open decrypts a sealed secret.
func (s *Store) open(id string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, fmt.Errorf("key %s: stored secret is damaged", id)
	}
	secret, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(id))
	if err != nil {
		// Not err itself: it says nothing useful and callers may log it.
		return nil, fmt.Errorf("key %s: stored secret does not decrypt with %s", id, KeyFile)
	}
	return secret, nil
}

// Get returns key id, revoked or not.
func (s *Store) Get(ctx context.Context, id string) (Key, error) {
	k, _, err := s.load(ctx, id)
	return k, err
}

// Secret returns key id and its secret, for checking HMAC signatures. A
// revoked key has no secret: ErrRevoked.
func (s *Store) Secret(ctx context.Context, id string) (Key, []byte, error) {
	k, sealed, err := s.load(ctx, id)
	if err != nil {
		return Key{}, nil, err
	}
	if !k.Active() {
		return k, nil, fmt.Errorf("key %s: %w", id, ErrRevoked)
	}
	secret, err := s.open(id, sealed)
	if err != nil {
		return Key{}, nil, err
	}
	return k, secret, nil
}

// Authenticate checks that secret is key id's, taking the same time
// whatever the secret.
func (s *Store) Authenticate(ctx context.Context, id, secret string) (Key, error) {
	k, want, err := s.Secret(ctx, id)
	if err != nil {
		return Key{}, err
	}
	// Comparing digests keeps even the length out of the timing.
	a, b := sha256.Sum256([]byte(secret)), sha256.Sum256(want)
	clear(want)
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		return Key{}, fmt.Errorf("key %s: %w", id, ErrBadSecret)
	}
	return k, nil
}

// List returns every key, revoked ones included, oldest first.
func (s *Store) List(ctx context.Context) ([]Key, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, created, revoked, ast, rate, burst, quota FROM api_keys ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	var keys []Key
	for rows.Next() {
		var k Key
		var created, revoked int64
		if err := rows.Scan(&k.ID, &k.Name, &created, &revoked, &k.AST, &k.Rate, &k.Burst, &k.Quota); err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		k.Created = time.Unix(0, created).UTC()
		if revoked != 0 {
			k.Revoked = time.Unix(0, revoked).UTC()
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return keys, nil
}

// Revoke revokes key id at once and for good, erasing its secret. Revoking
// a revoked key changes nothing.
func (s *Store) Revoke(ctx context.Context, id string) error {
	if !ValidID(id) {
		return errMalformed
	}
	now := s.now().UTC()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var revoked int64
		err := tx.QueryRowContext(ctx, `SELECT revoked FROM api_keys WHERE id = ?`, id).Scan(&revoked)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrUnknown
		case err != nil || revoked != 0:
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE api_keys SET revoked = ?, secret = NULL WHERE id = ?`, now.UnixNano(), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke key %s: %w", id, err)
	}
	s.observe(Key{ID: id, Revoked: now})
	return nil
}

// SetLimits changes key id's limits; its rate limiter starts afresh.
func (s *Store) SetLimits(ctx context.Context, id string, rate float64, burst int, quota int64, ast bool) error {
	if !ValidID(id) {
		return errMalformed
	}
	l := Limits{Rate: rate, Burst: burst, Quota: quota, AST: ast}
	if err := l.check(); err != nil {
		return fmt.Errorf("key %s: %w", id, err)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var revoked int64
		err := tx.QueryRowContext(ctx, `SELECT revoked FROM api_keys WHERE id = ?`, id).Scan(&revoked)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrUnknown
		case err != nil:
			return err
		case revoked != 0:
			return ErrRevoked
		}
		_, err = tx.ExecContext(ctx, `UPDATE api_keys SET rate = ?, burst = ?, quota = ?, ast = ? WHERE id = ?`, rate, burst, quota, ast, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("key %s: %w", id, err)
	}
	s.dropLimiter(id)
	return nil
}
