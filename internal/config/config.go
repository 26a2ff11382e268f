// Package config is kiln's configuration: the TOML file's schema with its
// defaults, and the checks that stop start-up with an error naming the bad
// key. It reads the file and nothing else.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"kiln/internal/imgenc"
	"kiln/internal/tile"
)

// DefaultFile is read from the working directory when no --config is given.
const DefaultFile = "kiln.toml"

// Config is the whole configuration.
type Config struct {
	Listen    string `toml:"listen"`
	Data      string `toml:"data"`
	PublicURL string `toml:"public_url"` // base of the URLs kiln hands out; default: the request's
	DB        string `toml:"db"`         // PostGIS map database URL; "": SQLite in the data directory

	Log        Log        `toml:"log"`
	Render     Render     `toml:"render"`
	HTTP       HTTP       `toml:"http"`
	Thumbnails Thumbnails `toml:"thumbnails"`
	AST        AST        `toml:"ast"`
	Renderd    Renderd    `toml:"renderd"`
	Cache      Cache      `toml:"cache"`
	Queue      Queue      `toml:"queue"`
	Styles     []Style    `toml:"-"` // decoded one by one onto the style defaults

	file string // where it was read from, for error messages
}

// Log configures logging.
type Log struct {
	Level  string `toml:"level"`  // debug, info, warn, error
	Format string `toml:"format"` // text or json
	Access bool   `toml:"access"` // a line per HTTP request
}

// Render configures the render queue and its workers.
type Render struct {
	Workers       int           `toml:"workers"` // 0: one per core
	Timeout       time.Duration `toml:"timeout"` // deadline of one metatile render
	Wait          time.Duration `toml:"wait"`    // how long a request for a missing tile waits before 503
	QueueOnDemand int           `toml:"queue_ondemand"`
	QueueDirty    int           `toml:"queue_dirty"`
	QueueBulk     int           `toml:"queue_bulk"`
	QueueLow      int           `toml:"queue_low"`
}

// HTTP configures the answers to tile requests.
type HTTP struct {
	CacheMaxAge time.Duration `toml:"cache_max_age"` // Cache-Control max-age of fresh tiles
	StaleMaxAge time.Duration `toml:"stale_max_age"` // max-age of tiles served while re-rendering
	CORS        string        `toml:"cors"`          // Access-Control-Allow-Origin; "" for none
	// StaticMaxSize is the largest side, in pixels, of a static map
	// picture served over HTTP (@2x pictures count their real pixels).
	StaticMaxSize int `toml:"static_max_size"`
}

// Thumbnails configures web page thumbnails.
type Thumbnails struct {
	AllowPrivateNetworks bool          `toml:"allow_private_networks"` // pages may reach loopback, private and link-local addresses
	Allow                []string      `toml:"allow"`                  // addresses (IP or CIDR) pages may reach even so
	Public               bool          `toml:"public"`                 // /thumbnail needs no key even on a public address
	Timeout              time.Duration `toml:"timeout"`                // a page's whole deadline
	TTL                  time.Duration `toml:"ttl"`                    // how long a thumbnail is fresh
	NegativeTTL          time.Duration `toml:"negative_ttl"`           // how long a failed page is not tried again
	Wait                 time.Duration `toml:"wait"`                   // how long a request waits for a page before 503
	Chromium             string        `toml:"chromium"`               // browser binary; "": chromium-headless-shell if installed, else chromium
	ChromiumFlags        []string      `toml:"chromium_flags"`         // extra flags
	Pages                int           `toml:"pages"`                  // pages loaded at once; 0: from cores and memory
	RecycleAfter         int           `toml:"recycle_after"`          // pages per browser before it is restarted
	MaxPageBytes         int64         `toml:"max_page_bytes"`         // bytes a page may download
	MaxURLLength         int           `toml:"max_url_length"`
	QueuePerKey          int           `toml:"queue_per_key"` // pages one API key may have queued at once
	Sizes                []string      `toml:"sizes"`         // sizes cut from every capture: small, large, WxH
	Rate                 float64       `toml:"rate"`          // requests per second per key, for new keys
	Burst                int           `toml:"burst"`
	SignedURLTTL         time.Duration `toml:"signed_url_ttl"` // lifetime of the signed image URLs kiln hands out
}

// AST configures the Alexa Site Thumbnail compatible API (QUERY and SOAP),
// which answers over the thumbnails' cache and keys; its image URLs live
// thumbnails.signed_url_ttl.
type AST struct {
	Enabled bool `toml:"enabled"` // false: no AST routes (/ is only the web page)
	// Namespace is the XML namespace of QUERY answers: the one the live
	// service's answers had, which clients may check. SOAP answers keep
	// the WSDL's (2006-05-15).
	Namespace string `toml:"namespace"`
}

// Renderd configures renderd's socket protocol, for Apache mod_tile and
// renderd's tools, off unless Socket or Address is set, and renderd's
// stats file.
type Renderd struct {
	// Socket is a Unix socket path, like renderd's socketname; relative
	// to the working directory, like data.
	Socket  string `toml:"socket"`
	Address string `toml:"address"` // TCP host:port, like renderd's iphostname and ipport
	// StatsFile is where renderd's stats file is kept for its Munin
	// plugins (renderd's stats_file, usually /run/renderd/renderd.stats);
	// "" for none. It works without Socket and Address too.
	StatsFile string `toml:"stats_file"`
}

// Cache says where rendered metatiles and thumbnails are kept: files
// under the data directory, or an S3-compatible object store that several
// kiln nodes share.
type Cache struct {
	Backend  string `toml:"backend"`  // "files" or "s3"
	Endpoint string `toml:"endpoint"` // s3: host:port
	Bucket   string `toml:"bucket"`   // s3: must exist
	Prefix   string `toml:"prefix"`   // s3: prepended to every key
	Region   string `toml:"region"`
	// AccessKeyID and SecretAccessKey sign the requests; the secret may
	// instead come from the environment (see cli).
	AccessKeyID     string        `toml:"access_key_id"`
	SecretAccessKey string        `toml:"secret_access_key"`
	TLS             bool          `toml:"tls"`
	Timeout         time.Duration `toml:"timeout"` // of one store call, retries included
	Retries         int           `toml:"retries"` // after the first attempt, with exponential backoff
}

// Queue says where metatile renders wait: in this process, or in a queue
// in PostgreSQL that several kiln nodes share.
type Queue struct {
	Backend string `toml:"backend"` // "local" or "postgres"
	URL     string `toml:"url"`     // postgres: the database; "": db
	// Lease is how long a node may hold a job before it is taken to have
	// died and the job goes to another node; 0: twice the longer of
	// render.timeout and Thumbnails.JobTimeout plus 30 s.
	Lease time.Duration `toml:"lease"`
}

// maxSocketPath is the longest Unix socket path: sockaddr_un's sun_path
// holds 108 bytes with the terminating NUL.
const maxSocketPath = 107

// Style is a tileset, declared like a renderd.conf map section.
type Style struct {
	ID          string        `toml:"id"`
	Renderer    string        `toml:"renderer"` // "map" or "debug"
	Style       string        `toml:"style"`    // map renderer: a built-in style name or a style file
	URI         string        `toml:"uri"`      // mod_tile-style alias such as "/osm/"
	MinZoom     int           `toml:"min_zoom"`
	MaxZoom     int           `toml:"max_zoom"`
	TileSize    int           `toml:"tile_size"`
	Format      string        `toml:"format"`  // png, png8, jpeg, webp
	Quality     int           `toml:"quality"` // JPEG quality, 1–100
	Metatile    int           `toml:"metatile"`
	TTL         time.Duration `toml:"ttl"` // 0: tiles age only through imports and expiry
	Description string        `toml:"description"`
	Attribution string        `toml:"attribution"`
}

// Default is the configuration without a file.
func Default() *Config {
	return &Config{
		Listen: "127.0.0.1:8080",
		Data:   "./kiln-data",
		Log:    Log{Level: "info", Format: "text", Access: true},
		Render: Render{
			Timeout:       time.Minute,
			Wait:          30 * time.Second,
			QueueOnDemand: 256,
			QueueDirty:    8000,
			QueueBulk:     256,
			QueueLow:      8000,
		},
		HTTP: HTTP{CacheMaxAge: 3 * time.Hour, StaleMaxAge: 15 * time.Minute, CORS: "*", StaticMaxSize: 2048},
		Thumbnails: Thumbnails{
			Timeout: 30 * time.Second, TTL: 24 * time.Hour, NegativeTTL: 10 * time.Minute,
			Wait: 45 * time.Second, RecycleAfter: 200,
			MaxPageBytes: 32 << 20, MaxURLLength: 2048, QueuePerKey: 64, Sizes: []string{"small", "large"},
			Rate: 10, Burst: 40, SignedURLTTL: 24 * time.Hour,
		},
		AST:   AST{Enabled: true, Namespace: "http://ast.amazonaws.com/doc/2005-10-05/"},
		Queue: Queue{Backend: "local"},
		Cache: Cache{Backend: "files", Region: "us-east-1", TLS: true, Timeout: 10 * time.Second, Retries: 3},
	}
}

// DefaultStyle holds the values a [[styles]] section starts from.
func DefaultStyle() Style {
	return Style{Renderer: "map", Style: "default", MaxZoom: 18, TileSize: 256, Format: "png", Metatile: 8}
}

// builtins are the styles that exist whether or not the file declares them;
// a section with the same id replaces one.
func builtins() []Style {
	debug := DefaultStyle()
	debug.ID, debug.Renderer, debug.Style, debug.MaxZoom = "debug", "debug", "", tile.MaxZoom
	debug.Description = "kiln debug grid: z/x/y, metatile and render time of every tile"
	def := DefaultStyle()
	def.ID = "default"
	def.Description = "kiln's general street map of the imported OpenStreetMap data"
	def.Attribution = `<a href="https://www.openstreetmap.org/copyright">© OpenStreetMap contributors</a>`
	return []Style{def, debug}
}

// Load reads the configuration. With path "", it reads kiln.toml from the
// working directory if there is one, else takes the defaults.
func Load(path string) (*Config, error) {
	c := Default()
	if path == "" {
		if _, err := os.Stat(DefaultFile); errors.Is(err, fs.ErrNotExist) {
			c.Styles = builtins()
			return c, c.Validate()
		}
		path = DefaultFile
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := c.decode(path, string(b)); err != nil {
		return nil, err
	}
	return c, c.Validate()
}

// decode reads TOML text onto c, refusing unknown keys.
func (c *Config) decode(file, text string) error {
	c.file = file
	// Styles are decoded one by one onto their defaults, from the same
	// metadata so that unknown keys in them are found.
	var whole struct {
		*Config
		Styles []toml.Primitive `toml:"styles"`
	}
	whole.Config = c
	md, err := toml.Decode(text, &whole)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	for i, p := range whole.Styles {
		s := DefaultStyle()
		if err := md.PrimitiveDecode(p, &s); err != nil {
			return fmt.Errorf("%s: styles[%d]: %w", file, i, err)
		}
		c.Styles = append(c.Styles, s)
	}
	if keys := md.Undecoded(); len(keys) > 0 {
		return fmt.Errorf("%s: unknown key %s", file, c.locate(text, keys[0]))
	}
	for _, b := range builtins() {
		if !slices.ContainsFunc(c.Styles, func(s Style) bool { return s.ID == b.ID }) {
			c.Styles = append(c.Styles, b)
		}
	}
	return nil
}

// locate names an unknown key, with the index of the [[styles]] section it
// is in ("styles[1].colour"), which TOML's key paths do not carry.
func (c *Config) locate(text string, k toml.Key) string {
	if len(k) == 2 && k[0] == "styles" {
		var raw struct {
			Styles []map[string]any `toml:"styles"`
		}
		if _, err := toml.Decode(text, &raw); err == nil {
			for i, s := range raw.Styles {
				if _, ok := s[k[1]]; ok {
					return fmt.Sprintf("styles[%d].%s", i, k[1])
				}
			}
		}
	}
	return k.String()
}

var (
	styleID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)
	uriPath = regexp.MustCompile(`^/([A-Za-z0-9_.-]+/)+$`)
	// thumbSize is a thumbnail size as pagerender.ParseSize reads it.
	thumbSize = regexp.MustCompile(`^(small|large|[1-9][0-9]{0,3}x[1-9][0-9]{0,3})$`)
	// reservedPrefixes are kiln's own routes, which an alias must not shadow.
	reservedPrefixes = []string{"/styles/", "/data/", "/thumbnail", "/metrics", "/healthz", "/xino", "/soap", "/doc/", "/static/", "/ast/"}
)

// Validate checks every value, naming the first bad key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%q is not host:port", c.Listen)
	}
	if c.Data == "" {
		bad("data", "empty")
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			bad("public_url", "%q is not an http(s) URL", c.PublicURL)
		}
	}
	if c.DB != "" {
		u, err := url.Parse(c.DB)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			bad("db", "%q is not a postgres://user:pass@host:port/db URL", redact(c.DB))
		}
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "%q is not text or json", c.Log.Format)
	}
	r := c.Render
	if r.Workers < 0 || r.Workers > 1024 {
		bad("render.workers", "%d is not between 0 (one per core) and 1024", r.Workers)
	}
	if r.Timeout <= 0 {
		bad("render.timeout", "%v is not a positive duration", r.Timeout)
	}
	if r.Wait <= 0 {
		bad("render.wait", "%v is not a positive duration", r.Wait)
	}
	for _, q := range []struct {
		key string
		n   int
	}{{"render.queue_ondemand", r.QueueOnDemand}, {"render.queue_dirty", r.QueueDirty}, {"render.queue_bulk", r.QueueBulk}, {"render.queue_low", r.QueueLow}} {
		if q.n < 1 || q.n > 1_000_000 {
			bad(q.key, "%d is not between 1 and 1000000", q.n)
		}
	}
	if c.HTTP.CacheMaxAge < 0 {
		bad("http.cache_max_age", "%v is negative", c.HTTP.CacheMaxAge)
	}
	if c.HTTP.StaleMaxAge < 0 {
		bad("http.stale_max_age", "%v is negative", c.HTTP.StaleMaxAge)
	}
	if c.HTTP.StaticMaxSize < 1 || c.HTTP.StaticMaxSize > 16384 {
		bad("http.static_max_size", "%d is not between 1 and 16384", c.HTTP.StaticMaxSize)
	}
	if strings.ContainsAny(c.HTTP.CORS, "\r\n") {
		bad("http.cors", "contains a line break")
	}
	t := c.Thumbnails
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"thumbnails.timeout", t.Timeout}, {"thumbnails.ttl", t.TTL}, {"thumbnails.negative_ttl", t.NegativeTTL},
		{"thumbnails.wait", t.Wait}, {"thumbnails.signed_url_ttl", t.SignedURLTTL}} {
		if d.v <= 0 {
			bad(d.key, "%v is not a positive duration", d.v)
		}
	}
	for _, a := range t.Allow {
		if _, err := netip.ParsePrefix(a); err != nil {
			if _, err := netip.ParseAddr(a); err != nil {
				bad("thumbnails.allow", "%q is not an IP address or CIDR prefix", a)
			}
		}
	}
	if t.Pages < 0 || t.Pages > 64 {
		bad("thumbnails.pages", "%d is not between 0 (from cores and memory) and 64", t.Pages)
	}
	if t.RecycleAfter < 1 {
		bad("thumbnails.recycle_after", "%d is not at least 1", t.RecycleAfter)
	}
	if t.MaxPageBytes < 1<<20 {
		bad("thumbnails.max_page_bytes", "%d is less than 1 MiB", t.MaxPageBytes)
	}
	if t.MaxURLLength < 64 || t.MaxURLLength > 1<<16 {
		bad("thumbnails.max_url_length", "%d is not between 64 and 65536", t.MaxURLLength)
	}
	if t.QueuePerKey < 1 {
		bad("thumbnails.queue_per_key", "%d is not at least 1", t.QueuePerKey)
	}
	for _, sz := range t.Sizes {
		if !thumbSize.MatchString(strings.ToLower(sz)) {
			bad("thumbnails.sizes", "%q is not small, large or WxH", sz)
		}
	}
	if t.Rate < 0 || t.Burst < 0 {
		bad("thumbnails.rate", "rate %g and burst %d must not be negative", t.Rate, t.Burst)
	}
	if u, err := url.Parse(c.AST.Namespace); err != nil || !u.IsAbs() || u.Host == "" || strings.ContainsAny(c.AST.Namespace, "\"<>&' \t\r\n") {
		bad("ast.namespace", "%q is not an absolute URI such as \"http://ast.amazonaws.com/doc/2005-10-05/\"", c.AST.Namespace)
	}
	if s := c.Renderd.Socket; len(s) > maxSocketPath || strings.ContainsRune(s, 0) {
		bad("renderd.socket", "%q is not a Unix socket path of at most %d bytes", s, maxSocketPath)
	}
	if a := c.Renderd.Address; a != "" {
		_, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 {
			bad("renderd.address", "%q is not host:port", a)
		}
	}
	c.validateCache(bad)
	c.validateQueue(bad)
	ids, uris := map[string]bool{}, map[string]bool{}
	for i, s := range c.Styles {
		key := fmt.Sprintf("styles[%d]", i)
		if s.ID != "" {
			key = fmt.Sprintf("styles[%d] (%q)", i, s.ID)
		}
		if !styleID.MatchString(s.ID) {
			bad(key+".id", "%q must be 1 to 40 letters, digits, '_' or '-'", s.ID)
		}
		if ids[s.ID] {
			bad(key+".id", "%q is declared twice", s.ID)
		}
		ids[s.ID] = true
		if s.URI != "" {
			switch {
			case !uriPath.MatchString(s.URI) || strings.Contains(s.URI, "/../") || strings.Contains(s.URI, "/./"):
				bad(key+".uri", "%q must be a path such as \"/osm/\", starting and ending with '/'", s.URI)
			case slices.ContainsFunc(reservedPrefixes, func(p string) bool { return strings.HasPrefix(strings.ToLower(s.URI), p) }):
				bad(key+".uri", "%q is one of kiln's own routes", s.URI)
			case uris[s.URI]:
				bad(key+".uri", "%q is used by another style", s.URI)
			}
			uris[s.URI] = true
		}
		if s.MinZoom < 0 || s.MinZoom > tile.MaxZoom {
			bad(key+".min_zoom", "%d is not between 0 and %d", s.MinZoom, tile.MaxZoom)
		}
		if s.MaxZoom < s.MinZoom || s.MaxZoom > tile.MaxZoom {
			bad(key+".max_zoom", "%d is not between min_zoom (%d) and %d", s.MaxZoom, s.MinZoom, tile.MaxZoom)
		}
		if s.TileSize < 64 || s.TileSize > 1024 || s.TileSize&(s.TileSize-1) != 0 {
			bad(key+".tile_size", "%d is not a power of two from 64 to 1024", s.TileSize)
		}
		if _, err := imgenc.ParseFormat(s.Format); err != nil {
			bad(key+".format", "%v", err)
		}
		if s.Quality < 0 || s.Quality > 100 {
			bad(key+".quality", "%d is not between 1 and 100", s.Quality)
		}
		if s.Metatile < 1 || s.Metatile > 16 || s.Metatile&(s.Metatile-1) != 0 {
			bad(key+".metatile", "%d is not 1, 2, 4, 8 or 16", s.Metatile)
		}
		if s.TTL < 0 {
			bad(key+".ttl", "%v is negative", s.TTL)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	err := errors.Join(errs...)
	if c.file != "" {
		return fmt.Errorf("%s: %w", c.file, err)
	}
	return err
}

// s3Bucket is an S3 bucket name: 3 to 63 lower-case letters, digits,
// dots and hyphens, starting and ending with a letter or digit.
var s3Bucket = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

func (c *Config) validateCache(bad func(key, format string, args ...any)) {
	k := c.Cache
	switch k.Backend {
	case "files":
		return
	case "s3":
	default:
		bad("cache.backend", "%q is not files or s3", k.Backend)
		return
	}
	if host, port, err := net.SplitHostPort(k.Endpoint); err != nil || host == "" || port == "" || strings.Contains(k.Endpoint, "/") {
		bad("cache.endpoint", "%q is not host:port (no scheme: cache.tls chooses https)", k.Endpoint)
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		bad("cache.endpoint", "%q: port %q is not a number from 1 to 65535", k.Endpoint, port)
	}
	if !s3Bucket.MatchString(k.Bucket) || strings.Contains(k.Bucket, "..") {
		bad("cache.bucket", "%q is not an S3 bucket name (3 to 63 lower-case letters, digits, '.' and '-')", k.Bucket)
	}
	if k.Prefix != "" && (strings.HasPrefix(k.Prefix, "/") || !strings.HasSuffix(k.Prefix, "/") || strings.Contains(k.Prefix, "//")) {
		bad("cache.prefix", "%q must be empty or a key prefix such as \"kiln/\" (no leading '/', ending in '/')", k.Prefix)
	}
	if k.Region == "" {
		bad("cache.region", "empty (S3 signs requests for a region; most servers take us-east-1)")
	}
	if k.AccessKeyID == "" {
		bad("cache.access_key_id", "empty: the s3 backend needs credentials")
	}
	if k.Timeout <= 0 {
		bad("cache.timeout", "%v is not a positive duration", k.Timeout)
	}
	if k.Retries < 0 || k.Retries > 10 {
		bad("cache.retries", "%d is not between 0 and 10", k.Retries)
	}
}

func (c *Config) validateQueue(bad func(key, format string, args ...any)) {
	q := c.Queue
	switch q.Backend {
	case "local":
		return
	case "postgres":
	default:
		bad("queue.backend", "%q is not local or postgres", q.Backend)
		return
	}
	if q.URL == "" && c.DB == "" {
		bad("queue.url", "empty, and no db to share the queue with: give a postgres:// URL")
	}
	if q.URL != "" {
		if u, err := url.Parse(q.URL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			bad("queue.url", "%q is not a postgres://user:pass@host:port/db URL", redact(q.URL))
		}
	}
	// A job must end (its deadline + half of it + 1 s, see
	// sharedq.JobTimeout) before its lease runs out: a metatile's deadline
	// is render.timeout, a page's Thumbnails.JobTimeout.
	if q.Lease == 0 {
		return
	}
	longest, what := c.Render.Timeout, fmt.Sprintf("render.timeout %v", c.Render.Timeout)
	if page := c.Thumbnails.JobTimeout(); page > longest {
		longest, what = page, fmt.Sprintf("thumbnails.timeout %v (a page job gets %v)", c.Thumbnails.Timeout, page)
	}
	if min := longest + longest/2 + time.Second; q.Lease <= min {
		bad("queue.lease", "%v is too short for %s: it must be over %v", q.Lease, what, min)
	}
}

// JobTimeout is a page job's deadline: the page's own plus half again, for
// starting a browser and storing the result.
func (t Thumbnails) JobTimeout() time.Duration { return t.Timeout + t.Timeout/2 }

// QueueURL is the database of the shared queue: queue.url, else db.
func (c *Config) QueueURL() string { return cmp.Or(c.Queue.URL, c.DB) }

// redact hides a URL's password for error messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
