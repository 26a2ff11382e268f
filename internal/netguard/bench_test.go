package netguard

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
)

// BenchmarkProxy: the page proxy's own cost for what a page asks of it,
// over loopback: a plain GET forwarded on kept-alive connections, a
// sub-resource of a name that does not resolve (refused by closing the
// connection) and a CONNECT to such a name, each on a new connection.
// The saved pages of bench/thumbs.sh ask about 32 requests of dead names
// each.
func BenchmarkProxy(b *testing.B) {
	srv := helloServer(b, false)
	port := portOf(b, srv.URL)
	s := startSession(b, loopbackGuard(newFakeResolver()), SessionOptions{})

	b.Run("forward", func(b *testing.B) {
		c := proxyClient(s, nil)
		c.Transport.(*http.Transport).DisableKeepAlives = false
		for b.Loop() {
			resp, err := c.Get(srv.URL + "/x")
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	// Each request on a connection of its own, as Chromium's are after a
	// refusal: the sub-resource's connection is closed without an answer,
	// the CONNECT gets a 502.
	dead := func(b *testing.B, req string, answered bool) {
		for b.Loop() {
			conn, err := net.Dial("tcp", s.Addr())
			if err != nil {
				b.Fatal(err)
			}
			io.WriteString(conn, req)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if answered != (err == nil) {
				b.Fatalf("answered %v: %v", answered, err)
			}
			if err == nil {
				resp.Body.Close()
			}
			conn.Close()
		}
	}
	b.Run("dead-subresource", func(b *testing.B) {
		dead(b, "GET http://nx.test:"+port+"/a.png HTTP/1.1\r\nHost: nx.test:"+port+"\r\nAccept: image/*,*/*;q=0.8\r\n\r\n", false)
	})
	b.Run("dead-connect", func(b *testing.B) {
		dead(b, "CONNECT nx.test:443 HTTP/1.1\r\nHost: nx.test:443\r\n\r\n", true)
	})
}
