package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadFull(t *testing.T) {
	c, err := Load("testdata/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9090" || c.Data != "/var/lib/kiln" || c.PublicURL != "https://tiles.example.org" || c.DB != "postgres://kiln:secret@db.example.org:5432/gis" {
		t.Errorf("top level: %+v", c)
	}
	if c.Log != (Log{Level: "debug", Format: "json", Access: false}) {
		t.Errorf("log: %+v", c.Log)
	}
	if c.Render != (Render{Workers: 3, Timeout: 2 * time.Minute, Wait: 10 * time.Second,
		QueueOnDemand: 100, QueueDirty: 1000, QueueBulk: 50, QueueLow: 2000}) {
		t.Errorf("render: %+v", c.Render)
	}
	if c.HTTP != (HTTP{CacheMaxAge: 6 * time.Hour, StaleMaxAge: 5 * time.Minute, CORS: "https://app.example.org", StaticMaxSize: 4096}) {
		t.Errorf("http: %+v", c.HTTP)
	}
	if th := c.Thumbnails; !th.AllowPrivateNetworks || len(th.Allow) != 2 || !th.Public || th.Timeout != 20*time.Second ||
		th.TTL != 12*time.Hour || th.Pages != 3 || len(th.Sizes) != 2 || th.ChromiumFlags[0] != "--lang=de" || th.NegativeTTL != 10*time.Minute {
		t.Errorf("thumbnails: %+v", th)
	}
	if c.AST != (AST{Enabled: false, Namespace: "http://ast.amazonaws.com/doc/2006-05-15/"}) {
		t.Errorf("ast: %+v", c.AST)
	}
	if c.Renderd != (Renderd{Socket: "/run/kiln/renderd.sock", Address: "127.0.0.1:7654"}) {
		t.Errorf("renderd: %+v", c.Renderd)
	}
	if c.Queue != (Queue{Backend: "postgres", Lease: 5 * time.Minute}) || c.QueueURL() != c.DB {
		t.Errorf("queue: %+v, url %q", c.Queue, c.QueueURL())
	}
	if c.Cache != (Cache{Backend: "s3", Endpoint: "s3.example.org:9000", Bucket: "kiln-tiles", Prefix: "eu/", Region: "eu-central-1",
		AccessKeyID: "AKIAKILN", SecretAccessKey: "not-so-secret", TLS: false, Timeout: 3 * time.Second, Retries: 5}) {
		t.Errorf("cache: %+v", c.Cache)
	}
	if len(c.Styles) != 3 || c.Styles[2].ID != "default" {
		t.Fatalf("%d styles, want 3 (debug declared, so not added again; default added)", len(c.Styles))
	}
	want := Style{ID: "osm", Renderer: "debug", Style: "default", URI: "/osm/", MinZoom: 2, MaxZoom: 16, TileSize: 512,
		Format: "jpeg", Quality: 70, Metatile: 4, TTL: 168 * time.Hour, Description: "a test style", Attribution: "© test"}
	if c.Styles[0] != want {
		t.Errorf("styles[0] = %+v\nwant %+v", c.Styles[0], want)
	}
	if s := c.Styles[1]; s.ID != "debug" || s.Format != "png8" || s.MaxZoom != 18 || s.Metatile != 8 || s.TileSize != 256 {
		t.Errorf("styles[1] = %+v: unset keys take the style defaults", s)
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Chdir(t.TempDir()) // no kiln.toml here
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.Data != "./kiln-data" || c.Render.Wait != 30*time.Second || !c.Log.Access {
		t.Errorf("defaults: %+v", c)
	}
	// AST is on, answering QUERY calls in the namespace the live service used.
	if c.AST != (AST{Enabled: true, Namespace: "http://ast.amazonaws.com/doc/2005-10-05/"}) {
		t.Errorf("ast defaults: %+v", c.AST)
	}
	if c.Renderd != (Renderd{}) {
		t.Errorf("renderd is off by default: %+v", c.Renderd)
	}
	if c.Queue != (Queue{Backend: "local"}) {
		t.Errorf("queue defaults: %+v", c.Queue)
	}
	if c.Cache != (Cache{Backend: "files", Region: "us-east-1", TLS: true, Timeout: 10 * time.Second, Retries: 3}) {
		t.Errorf("cache defaults: %+v", c.Cache)
	}
	if len(c.Styles) != 2 || c.Styles[0].ID != "default" || c.Styles[0].Renderer != "map" || c.Styles[0].Style != "default" ||
		c.Styles[1].ID != "debug" || c.Styles[1].MaxZoom != 20 {
		t.Errorf("built-in styles: %+v", c.Styles)
	}
	// kiln.toml in the working directory is read without --config.
	os.WriteFile("kiln.toml", []byte("listen = \"127.0.0.1:1234\"\n"), 0o644)
	if c, err = Load(""); err != nil || c.Listen != "127.0.0.1:1234" {
		t.Errorf("kiln.toml not read: %v %v", c, err)
	}
}

func TestLoadErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name, toml, want string
	}{
		{"unknown top-level key", "lissen = \"x\"\n", "unknown key lissen"},
		{"unknown section", "[renderer]\nworkers = 1\n", "unknown key renderer"},
		{"unknown nested key", "[render]\nworker = 1\n", "unknown key render.worker"},
		{"unknown key in second style", "[[styles]]\nid = \"a\"\n[[styles]]\nid = \"b\"\ncolour = \"red\"\n", "unknown key styles[1].colour"},
		{"wrong type", "listen = 8080\n", `"listen"`},
		{"bad duration", "[render]\ntimeout = \"soon\"\n", "timeout"},
		{"syntax", "listen = \n", "line 1"},
		{"bad listen", "listen = \"8080\"\n", "listen: \"8080\" is not host:port"},
		{"bad public_url", "public_url = \"tiles.example.org\"\n", "public_url"},
		{"bad db", "db = \"mysql://u:hunter2@h/d\"\n", "db: \"mysql://u:xxxxx@h/d\""},
		{"bad log level", "[log]\nlevel = \"loud\"\n", "log.level"},
		{"bad log format", "[log]\nformat = \"xml\"\n", "log.format"},
		{"negative workers", "[render]\nworkers = -1\n", "render.workers"},
		{"zero timeout", "[render]\ntimeout = \"0s\"\n", "render.timeout"},
		{"negative wait", "[render]\nwait = \"-1s\"\n", "render.wait"},
		{"zero queue", "[render]\nqueue_bulk = 0\n", "render.queue_bulk"},
		{"negative max age", "[http]\ncache_max_age = \"-1h\"\n", "http.cache_max_age"},
		{"cors line break", "[http]\ncors = \"a\\nb\"\n", "http.cors"},
		{"static size", "[http]\nstatic_max_size = 0\n", "http.static_max_size"},
		{"thumbnail allow", "[thumbnails]\nallow = [\"10.0.0.0/33\"]\n", "thumbnails.allow"},
		{"thumbnail size", "[thumbnails]\nsizes = [\"huge\"]\n", "thumbnails.sizes"},
		{"thumbnail timeout", "[thumbnails]\ntimeout = \"0s\"\n", "thumbnails.timeout"},
		{"thumbnail unknown key", "[thumbnails]\nallow_private = true\n", "thumbnails.allow_private"},
		{"ast namespace relative", "[ast]\nnamespace = \"doc/2005-10-05/\"\n", "ast.namespace"},
		{"ast namespace empty", "[ast]\nnamespace = \"\"\n", "ast.namespace"},
		{"ast namespace quote", "[ast]\nnamespace = \"http://a.example/\\\"x\"\n", "ast.namespace"},
		{"ast unknown key", "[ast]\nenable = true\n", "unknown key ast.enable"},
		{"renderd socket too long", "[renderd]\nsocket = \"/" + strings.Repeat("s", 107) + "\"\n", "renderd.socket"},
		{"renderd address without port", "[renderd]\naddress = \"127.0.0.1\"\n", "renderd.address"},
		{"renderd address port 0", "[renderd]\naddress = \"127.0.0.1:0\"\n", "renderd.address"},
		{"renderd address named port", "[renderd]\naddress = \"localhost:renderd\"\n", "renderd.address"},
		{"renderd unknown key", "[renderd]\nsocketname = \"/run/renderd.sock\"\n", "unknown key renderd.socketname"},
		{"queue backend", "[queue]\nbackend = \"nats\"\n", `queue.backend: "nats" is not local or postgres`},
		{"queue without a database", "[queue]\nbackend = \"postgres\"\n", "queue.url: empty, and no db"},
		{"queue url not postgres", "[queue]\nbackend = \"postgres\"\nurl = \"mysql://h/db\"\n", "queue.url"},
		{"queue lease too short", "[render]\ntimeout = \"60s\"\n[queue]\nbackend = \"postgres\"\nurl = \"postgres://h/db\"\nlease = \"80s\"\n", "queue.lease: 1m20s is too short for render.timeout 1m0s: it must be over 1m31s"},
		{"queue lease too short for pages", "[render]\ntimeout = \"4s\"\n[queue]\nbackend = \"postgres\"\nurl = \"postgres://h/db\"\nlease = \"8s\"\n", "queue.lease: 8s is too short for thumbnails.timeout 30s (a page job gets 45s): it must be over 1m8.5s"},
		{"cache backend", "[cache]\nbackend = \"redis\"\n", `cache.backend: "redis" is not files or s3`},
		{"cache endpoint missing", "[cache]\nbackend = \"s3\"\nbucket = \"tiles\"\naccess_key_id = \"k\"\n", `cache.endpoint: "" is not host:port`},
		{"cache endpoint URL", "[cache]\nbackend = \"s3\"\nendpoint = \"https://s3.example.org\"\nbucket = \"tiles\"\naccess_key_id = \"k\"\n", `cache.endpoint: "https://s3.example.org" is not host:port (no scheme`},
		{"cache endpoint port", "[cache]\nbackend = \"s3\"\nendpoint = \"127.0.0.1:99999\"\nbucket = \"tiles\"\naccess_key_id = \"k\"\n", `cache.endpoint: "127.0.0.1:99999": port`},
		{"cache bucket", "[cache]\nbackend = \"s3\"\nendpoint = \"127.0.0.1:9000\"\nbucket = \"Tiles_1\"\naccess_key_id = \"k\"\n", `cache.bucket: "Tiles_1" is not an S3 bucket name`},
		{"cache prefix slash", "[cache]\nbackend = \"s3\"\nendpoint = \"127.0.0.1:9000\"\nbucket = \"tiles\"\naccess_key_id = \"k\"\nprefix = \"/kiln/\"\n", "cache.prefix"},
		{"cache prefix end", "[cache]\nbackend = \"s3\"\nendpoint = \"127.0.0.1:9000\"\nbucket = \"tiles\"\naccess_key_id = \"k\"\nprefix = \"kiln\"\n", "cache.prefix"},
		{"cache region", "[cache]\nbackend = \"s3\"\nendpoint = \"127.0.0.1:9000\"\nbucket = \"tiles\"\naccess_key_id = \"k\"\nregion = \"\"\n", "cache.region"},
		{"cache access key", "[cache]\nbackend = \"s3\"\nendpoint = \"127.0.0.1:9000\"\nbucket = \"tiles\"\n", "cache.access_key_id: empty"},
		{"cache timeout", "[cache]\nbackend = \"s3\"\nendpoint = \"127.0.0.1:9000\"\nbucket = \"tiles\"\naccess_key_id = \"k\"\ntimeout = \"0s\"\n", "cache.timeout"},
		{"cache retries", "[cache]\nbackend = \"s3\"\nendpoint = \"127.0.0.1:9000\"\nbucket = \"tiles\"\naccess_key_id = \"k\"\nretries = -1\n", "cache.retries: -1"},
		{"cache unknown key", "[cache]\nsecret_key = \"x\"\n", "unknown key cache.secret_key"},
		{"uri on an ast route", "[[styles]]\nid = \"a\"\nuri = \"/Xino/\"\n", "one of kiln's own routes"},
		{"uri on the placeholders", "[[styles]]\nid = \"a\"\nuri = \"/ast/\"\n", "one of kiln's own routes"},
		{"missing id", "[[styles]]\nrenderer = \"debug\"\n", "styles[0].id"},
		{"bad id", "[[styles]]\nid = \"../x\"\n", `styles[0] ("../x").id`},
		{"duplicate id", "[[styles]]\nid = \"a\"\n[[styles]]\nid = \"a\"\n", `styles[1] ("a").id: "a" is declared twice`},
		{"uri without slashes", "[[styles]]\nid = \"a\"\nuri = \"osm\"\n", `styles[0] ("a").uri`},
		{"uri traversal", "[[styles]]\nid = \"a\"\nuri = \"/a/../b/\"\n", `styles[0] ("a").uri`},
		{"uri on a kiln route", "[[styles]]\nid = \"a\"\nuri = \"/styles/\"\n", "one of kiln's own routes"},
		{"uri twice", "[[styles]]\nid = \"a\"\nuri = \"/x/\"\n[[styles]]\nid = \"b\"\nuri = \"/x/\"\n", "used by another style"},
		{"min zoom", "[[styles]]\nid = \"a\"\nmin_zoom = -1\n", "min_zoom"},
		{"max zoom too deep", "[[styles]]\nid = \"a\"\nmax_zoom = 21\n", "max_zoom: 21"},
		{"max below min", "[[styles]]\nid = \"a\"\nmin_zoom = 5\nmax_zoom = 4\n", "max_zoom: 4"},
		{"tile size", "[[styles]]\nid = \"a\"\ntile_size = 300\n", "tile_size: 300"},
		{"tile size zero", "[[styles]]\nid = \"a\"\ntile_size = 0\n", "tile_size: 0"},
		{"format", "[[styles]]\nid = \"a\"\nformat = \"gif\"\n", "format"},
		{"quality", "[[styles]]\nid = \"a\"\nquality = 101\n", "quality"},
		{"metatile", "[[styles]]\nid = \"a\"\nmetatile = 3\n", "metatile: 3"},
		{"ttl", "[[styles]]\nid = \"a\"\nttl = \"-1h\"\n", "ttl"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "kiln.toml")
			os.WriteFile(p, []byte(tc.toml), 0o644)
			_, err := Load(p)
			if err == nil {
				t.Fatalf("accepted %q", tc.toml)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("error %q\nwant it to name %q and the file", err, tc.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope.toml")); err == nil || !strings.Contains(err.Error(), "nope.toml") {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	b, _ := os.ReadFile("testdata/full.toml")
	f.Add(string(b))
	f.Add("[[styles]]\nid = \"a\"\ncolour = 1\n")
	f.Fuzz(func(t *testing.T, text string) {
		c := Default()
		if err := c.decode("fuzz.toml", text); err != nil {
			return
		}
		c.Validate() // must not panic
	})
}
