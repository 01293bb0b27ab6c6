package web

import (
	"encoding/json"
	"net"
	"os"
	"os/signal"
	"syscall"
	"testing"
)

// TestPanel_Serve serves the demo family's panel at $VAKT_PANEL until interrupted, for
// bench/lighthouse.sh; it is skipped unless the variable is set. It signs anna in and
// writes the session cookie as Lighthouse's --extra-headers file to $VAKT_PANEL_HEADERS
// (default /tmp/vakt-panel-headers.json):
//
//	VAKT_PANEL=127.0.0.1:8098 go test ./ui/web -run TestPanel_Serve -timeout 0 &
//	bench/lighthouse.sh http://127.0.0.1:8098/ --extra-headers=/tmp/vakt-panel-headers.json
func TestPanel_Serve(t *testing.T) {
	addr := os.Getenv("VAKT_PANEL")
	if addr == "" {
		t.Skip("set VAKT_PANEL=127.0.0.1:8098 (and -timeout 0) to serve the panel for bench/lighthouse.sh")
	}
	headers := os.Getenv("VAKT_PANEL_HEADERS")
	if headers == "" {
		headers = "/tmp/vakt-panel-headers.json"
	}
	r := newRig(t)
	anna := r.login("anna")
	b, _ := json.Marshal(map[string]string{"Cookie": cookieName + "=" + anna.cookie})
	if err := os.WriteFile(headers, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(t.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go r.s.App().Listener(ln)
	t.Logf("serving the panel at http://%s/ signed in as anna; headers in %s", addr, headers)
	<-ctx.Done()
	r.s.stopStreams()
	r.s.App().Shutdown()
}
