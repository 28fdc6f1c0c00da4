package faulttest

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// TestPostgresConnectionsHang puts a proxy between latch and its
// PostgreSQL and, under load, freezes it: every connection stays open but
// no byte goes through, and new connections get no answer, as when the
// network to the database drops packets. A database that hangs is worse
// than one that refuses: only LATCH_REQUEST_TIMEOUT bounds the wait. Then
// the proxy cuts every connection and lets traffic through again, and
// latch must recover by itself with nothing acknowledged missing.
func TestPostgresConnectionsHang(t *testing.T) {
	pg := startPostgres(t)
	px := startProxy(t, fmt.Sprintf("127.0.0.1:%d", pg.port))
	p, c, l := startUnderLoad(t, fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", px.addr()))

	px.freeze()
	fault := time.Now()
	expectDown(t, c, l, "connections frozen", "database hangs", fault, faultRequestTimeout+faultSlack)

	px.cut()
	healed := time.Now()
	if !c.ready(30 * time.Second) {
		t.Fatalf("latch not ready 30 s after the network came back; logs:\n%s", p.Logs())
	}
	t.Logf("ready again %v after the connections were cut and traffic let through (%v after the freeze), without a restart",
		time.Since(healed).Round(time.Millisecond), time.Since(fault).Round(time.Millisecond))
	verify(t, c, l, fault, faultGrace)
	p.Stop(t)
	if t.Failed() {
		t.Logf("latch logs:\n%s", p.Logs())
	}
}

// proxy forwards TCP connections to a target; frozen, it forwards nothing
// and connects nothing, but closes nothing either.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	open  chan struct{} // closed while traffic flows
	conns map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := make(chan struct{})
	close(open)
	px := &proxy{ln: ln, target: target, open: open, conns: map[net.Conn]bool{}}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { px.serve(conn) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		px.cut()
		wg.Wait()
	})
	return px
}

func (px *proxy) addr() string { return px.ln.Addr().String() }

// gate waits while the proxy is frozen.
func (px *proxy) gate() {
	px.mu.Lock()
	open := px.open
	px.mu.Unlock()
	<-open
}

func (px *proxy) track(c net.Conn) bool {
	px.mu.Lock()
	defer px.mu.Unlock()
	if px.conns == nil {
		return false
	}
	px.conns[c] = true
	return true
}

func (px *proxy) serve(client net.Conn) {
	if !px.track(client) {
		client.Close()
		return
	}
	px.gate()
	server, err := net.DialTimeout("tcp", px.target, 5*time.Second)
	if err != nil || !px.track(server) {
		client.Close()
		if server != nil {
			server.Close()
		}
		return
	}
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				px.gate()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		// Either side ending ends both.
		dst.Close()
		src.Close()
	}
	wg.Go(func() { pipe(server, client) })
	wg.Go(func() { pipe(client, server) })
	wg.Wait()
}

// freeze stops all traffic without closing anything.
func (px *proxy) freeze() {
	px.mu.Lock()
	defer px.mu.Unlock()
	px.open = make(chan struct{})
}

// cut resets every connection and lets traffic through again.
func (px *proxy) cut() {
	px.mu.Lock()
	conns := px.conns
	px.conns = map[net.Conn]bool{}
	select {
	case <-px.open:
	default:
		close(px.open)
	}
	px.mu.Unlock()
	for c := range conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // a reset, as a broken network gives
		}
		c.Close()
	}
}
