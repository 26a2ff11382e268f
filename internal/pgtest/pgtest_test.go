package pgtest

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func connect(t *testing.T, u string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func TestPostGIS(t *testing.T) {
	began := time.Now()
	s := Start(t)
	t.Logf("Start took %v (port %d)", time.Since(began), s.Port())
	ctx := context.Background()

	began = time.Now()
	u1 := s.NewDatabase(t)
	t.Logf("first NewDatabase took %v", time.Since(began))
	began = time.Now()
	u2 := s.NewDatabase(t)
	t.Logf("second NewDatabase took %v", time.Since(began))
	if u1 == u2 {
		t.Fatalf("two databases, one URL: %s", u1)
	}
	for _, u := range []string{u1, u2} {
		p, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		if pw, _ := p.User.Password(); p.Scheme != "postgres" || p.User.Username() != Role || pw == "" ||
			p.Hostname() != "127.0.0.1" || p.Port() == "" || p.RawQuery != "" {
			t.Fatalf("URL %s is not postgres://%s:PASSWORD@127.0.0.1:PORT/DB", u, Role)
		}
	}

	c := connect(t, u1)
	var version string
	if err := c.QueryRow(ctx, "SELECT postgis_full_version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Log(version)
	if !strings.Contains(version, `POSTGIS="3.`) {
		t.Errorf("postgis_full_version() = %q, want PostGIS 3", version)
	}
	var super bool
	if err := c.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		t.Fatal(err)
	}
	if super {
		t.Error("the test role is a superuser")
	}

	if _, err := c.Exec(ctx, `CREATE TABLE pois (id int PRIMARY KEY, name text, geom geometry(Point, 3857));
		CREATE INDEX pois_geom ON pois USING gist (geom)`); err != nil {
		t.Fatal(err)
	}
	// COPY with the geometry as EWKB (little endian, SRID flag, SRID 3857).
	rows := [][]any{
		{1, "in", ewkbPoint(1000, 1000)},
		{2, "also in", ewkbPoint(-500, 2500)},
		{3, "out", ewkbPoint(50000, 50000)},
	}
	n, err := c.CopyFrom(ctx, pgx.Identifier{"pois"}, []string{"id", "name", "geom"}, pgx.CopyFromRows(rows))
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(rows)) {
		t.Fatalf("copied %d rows, want %d", n, len(rows))
	}
	if _, err := c.Exec(ctx, `INSERT INTO pois VALUES (4, 'wkt', ST_GeomFromText('POINT(10 20)', 3857))`); err != nil {
		t.Fatal(err)
	}
	r, err := c.Query(ctx, `SELECT id, ST_AsText(geom) FROM pois
		WHERE geom && ST_MakeEnvelope(-1000, 0, 3000, 3000, 3857) ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for r.Next() {
		var id int
		var wkt string
		if err := r.Scan(&id, &wkt); err != nil {
			t.Fatal(err)
		}
		got = append(got, wkt)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if want := "POINT(1000 1000),POINT(-500 2500),POINT(10 20)"; strings.Join(got, ",") != want {
		t.Errorf("bbox query: %v, want %s", got, want)
	}

	// The second database is separate and has PostGIS too.
	c2 := connect(t, u2)
	var tables int
	if err := c2.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'pois'").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Error("the second database sees the first's table")
	}
	if err := c2.QueryRow(ctx, "SELECT ST_SRID(ST_Transform(ST_SetSRID(ST_MakePoint(9.5, 47.1), 4326), 3857))").Scan(&tables); err != nil || tables != 3857 {
		t.Errorf("ST_Transform in the second database: %d, %v", tables, err)
	}
}

func TestWithoutPostGIS(t *testing.T) {
	s := Start(t)
	c := connect(t, s.NewDatabaseWithoutPostGIS(t))
	ctx := context.Background()
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_extension WHERE extname = 'postgis'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("postgis is installed")
	}
	_, err := c.Exec(ctx, "CREATE EXTENSION postgis")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42501" { // insufficient_privilege
		t.Fatalf("CREATE EXTENSION postgis as %s: %v, want permission denied (42501)", Role, err)
	}
	t.Log(pe.Message)
	// The role owns its database all the same.
	if _, err := c.Exec(ctx, "CREATE TABLE t (x int)"); err != nil {
		t.Fatal(err)
	}
}

func TestSuperuserAndParallel(t *testing.T) {
	s := Start(t)
	for _, name := range []string{"a", "b", "c"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if Start(t) != s {
				t.Fatal("Start returned another server")
			}
			c := connect(t, s.NewDatabase(t))
			var one int
			if err := c.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil {
				t.Fatal(err)
			}
		})
	}
	c := connect(t, s.SuperuserURL())
	var super bool
	if err := c.QueryRow(context.Background(), "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		t.Fatal(err)
	}
	if !super {
		t.Error("SuperuserURL does not log in as a superuser")
	}
}

// ewkbPoint encodes a 2D point with SRID 3857 as little-endian EWKB.
func ewkbPoint(x, y float64) []byte {
	b := []byte{1, 1, 0, 0, 0x20, 0x11, 0x0f, 0, 0} // byte order, type Point|SRID flag, SRID 3857
	b = appendFloat(b, x)
	return appendFloat(b, y)
}

func appendFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}
