package homekit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"sync"
	"unsafe"

	"github.com/brutella/hap"
	"github.com/go-chi/chi"
)

// verifyGate works around a race in brutella/hap v0.0.35 that hangs about one fresh
// controller connection in twenty right after pair-verify (measured with hap-controller:
// TestBridge_HomeKitControllerFreshConnections, 10 of 200 before this gate).
//
// hap switches a connection to encryption inside its pair-verify M3 handler (conn.Upgrade)
// and lets the switch happen at the connection's next Read, trusting that to come after
// the plain M4 answer is written. But net/http reads ahead in the background while a
// handler runs (to notice a client going away), and that read races with both ends of the
// switch:
//   - when the background read starts only after Upgrade, it switches the connection
//     before the M4 answer is written, so M4 goes out encrypted and the controller, waiting
//     for plain text, hangs in pair-verify;
//   - when it started before Upgrade, it waits in a plain read, and net/http stops it only
//     after the M4 answer is flushed: a quick controller's first encrypted request then loses
//     its first byte to that plain read, and hap waits for a frame that never ends: the
//     controller hangs on its first request.
//
// The gate takes hap's M3 handler off net/http's connection: it hijacks the connection
// (which stops the background read and waits for it), runs hap's handler with the answer
// kept aside, writes M4 in plain text itself, and then serves the now encrypted connection
// with a second http.Server over hap's own handlers. Nothing reads the connection between
// Upgrade and the M4 answer, so the switch falls exactly between M4 and the controller's
// first encrypted byte.
//
// hap forgets a connection's session when its http.Server says the connection closed,
// which it never says for a hijacked one. The gate's server passes its own closings on to
// hap's handler of them (reached through reflection: hap keeps it in an unexported field,
// checked at start), or stale sessions would pile up and make every later pair-setup
// "busy". And a request that arrives on hap's own server for a path that needs a session
// always came on a connection that was never verified there (verified ones have moved), so
// the gate refuses it, lest it borrow the session of a closed connection from the same
// address and port.
type verifyGate struct {
	mux *chi.Mux
	log *slog.Logger
	srv *http.Server
	ln  *handoffListener
	// closed is hap's handler of a connection's closing.
	closed func(net.Conn, http.ConnState)
}

// verified marks the requests of connections the gate serves, which have a session.
type verified struct{}

// hapProtected are hap's paths that need a verified session.
var hapProtected = map[string]bool{"/accessories": true, "/characteristics": true, "/prepare": true, "/pairings": true}

// newVerifyGate puts the gate in front of srv's handlers. Run serves the connections it
// takes over.
func newVerifyGate(srv *hap.Server, logger *slog.Logger) (*verifyGate, error) {
	mux, ok := srv.ServeMux().(*chi.Mux)
	if !ok {
		return nil, fmt.Errorf("homekit: hap's handler is a %T, not the chi router the verify gate expects", srv.ServeMux())
	}
	closed, err := hapConnState(srv)
	if err != nil {
		return nil, err
	}
	g := &verifyGate{mux: mux, log: logger, ln: newHandoffListener(), closed: closed}
	g.srv = &http.Server{
		Handler:     mux,
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context { return context.WithValue(ctx, verified{}, true) },
		ConnState: func(c net.Conn, st http.ConnState) {
			if st == http.StateClosed {
				closed(c, st) // hap forgets the connection's session
			}
		},
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	wrapped := false
	for _, r := range mux.Routes() {
		for method, h := range r.Handlers {
			switch {
			case r.Pattern == "/pair-verify" && method == http.MethodPost:
				mux.Method(method, r.Pattern, g.pairVerify(h))
				wrapped = true
			case hapProtected[r.Pattern]:
				mux.Method(method, r.Pattern, g.protect(h))
			}
		}
	}
	if !wrapped {
		return nil, errors.New("homekit: hap has no POST /pair-verify for the verify gate to guard")
	}
	return g, nil
}

// Run serves the connections the gate took over until ctx ends, then closes them.
func (g *verifyGate) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- g.srv.Serve(g.ln) }()
	<-ctx.Done()
	g.ln.Close()
	err := g.srv.Close()
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && !errors.Is(serr, net.ErrClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// hapConnState returns hap's handler of its connections' states (which forgets a closed
// connection's session): the ConnState of the http.Server that hap v0.0.35 keeps in its
// Server's unexported field ss.
func hapConnState(srv *hap.Server) (func(net.Conn, http.ConnState), error) {
	f := reflect.ValueOf(srv).Elem().FieldByName("ss")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*http.Server]() {
		return nil, errors.New("homekit: hap.Server has no field ss *http.Server for the verify gate (a hap other than v0.0.35?)")
	}
	hs := reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface().(*http.Server)
	if hs == nil || hs.ConnState == nil {
		return nil, errors.New("homekit: hap's http.Server has no ConnState for the verify gate")
	}
	return hs.ConnState, nil
}

// protect refuses a request for a session's path on a connection the gate does not serve.
func (g *verifyGate) protect(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Context().Value(verified{}) == nil {
			g.log.Debug("HomeKit: request without pair-verify refused", "remote", req.RemoteAddr, "path", req.URL.Path)
			hap.JsonError(w, hap.JsonStatusInsufficientPrivileges)
			return
		}
		h.ServeHTTP(w, req)
	})
}

// pairVerify passes M1 to hap as it is and takes M3, the step that switches to
// encryption, off net/http's connection.
func (g *verifyGate) pairVerify(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(io.LimitReader(req.Body, 64<<10))
		if err != nil {
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		if tlvState(body) != 3 {
			h.ServeHTTP(w, req)
			return
		}
		if len(tlvItem(body, 5)) < 16 {
			// hap slices off the 16-byte tag unchecked and would panic.
			w.Header().Set("Content-Type", hap.HTTPContentTypePairingTLV8)
			w.Write([]byte{6, 1, 4, 7, 1, 2}) // state M4, error: authentication
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			g.log.Warn("HomeKit: pair-verify without the verify gate", "error", err)
			h.ServeHTTP(w, req)
			return
		}
		if rw.Reader.Buffered() > 0 {
			// The controller sent more before its M4: no HAP controller does.
			g.log.Debug("HomeKit: bytes after pair-verify M3, connection closed", "remote", req.RemoteAddr)
			conn.Close()
			g.closed(conn, http.StateClosed)
			return
		}
		ans := &heldAnswer{header: http.Header{}}
		h.ServeHTTP(ans, req) // hap's Upgrade happens here; nothing reads meanwhile
		res := &http.Response{
			StatusCode:    ans.status(),
			ProtoMajor:    1,
			ProtoMinor:    1,
			Header:        ans.header,
			Body:          io.NopCloser(bytes.NewReader(ans.body.Bytes())),
			ContentLength: int64(ans.body.Len()),
		}
		if err := res.Write(conn); err != nil || tlvItem(ans.body.Bytes(), 7) != nil {
			// A failed pair-verify leaves nothing to serve (hap would keep the connection,
			// and with it a session that makes pair-setup "busy").
			conn.Close()
			g.closed(conn, http.StateClosed)
			return
		}
		g.ln.handoff(conn)
	})
}

// tlvState returns the value of a pairing TLV8's State item (type 6), 0 if none.
func tlvState(b []byte) byte {
	if v := tlvItem(b, 6); len(v) == 1 {
		return v[0]
	}
	return 0
}

// tlvItem returns the value of a TLV8's item of type typ, joining the fragments of a long
// one; nil if there is none or the TLV8 is cut short.
func tlvItem(b []byte, typ byte) []byte {
	var v []byte
	last := -1
	for i := 0; len(b) >= 2; i++ {
		t, n := b[0], int(b[1])
		if len(b) < 2+n {
			return nil
		}
		if t == typ && (v == nil || last == i-1) {
			v, last = append(v, b[2:2+n]...), i
		}
		b = b[2+n:]
	}
	return v
}

// heldAnswer keeps a handler's answer, to be written once the handler has returned.
type heldAnswer struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (a *heldAnswer) Header() http.Header { return a.header }

func (a *heldAnswer) Write(b []byte) (int, error) { return a.body.Write(b) }

func (a *heldAnswer) WriteHeader(code int) {
	if a.code == 0 {
		a.code = code
	}
}

func (a *heldAnswer) status() int {
	if a.code == 0 {
		return http.StatusOK
	}
	return a.code
}

// handoffListener is a net.Listener of the connections the gate hands over.
type handoffListener struct {
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func newHandoffListener() *handoffListener {
	return &handoffListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

// handoff gives conn to the gate's server, or closes it once the gate has stopped.
func (l *handoffListener) handoff(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		c.Close()
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return handoffAddr{} }

type handoffAddr struct{}

func (handoffAddr) Network() string { return "homekit-verified" }
func (handoffAddr) String() string  { return "homekit-verified" }
