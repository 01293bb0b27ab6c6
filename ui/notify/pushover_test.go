package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
)

const (
	poToken = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
	poUser  = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
)

// pushoverServer answers the Pushover API as documented: messages.json takes a form and
// answers status 1 (and a receipt for priority 2); receipts/<r>.json answers
// acknowledged 0 until ackAfter polls, then 1.
type pushoverServer struct {
	*httptest.Server
	mu       sync.Mutex
	messages []url.Values
	polls    int
	ackAfter int
}

func newPushoverServer(t *testing.T) *pushoverServer {
	s := &pushoverServer{ackAfter: 2}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /1/messages.json", func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("content type %q", ct)
		}
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("token") != poToken || r.PostForm.Get("user") == "" || r.PostForm.Get("message") == "" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"status":0,"request":"r0","errors":["application token is invalid"]}`)
			return
		}
		s.mu.Lock()
		s.messages = append(s.messages, r.PostForm)
		n := len(s.messages)
		s.mu.Unlock()
		if r.PostForm.Get("priority") == "2" {
			fmt.Fprintf(w, `{"status":1,"request":"r%d","receipt":"rcpt%d"}`, n, n)
			return
		}
		fmt.Fprintf(w, `{"status":1,"request":"r%d"}`, n)
	})
	mux.HandleFunc("GET /1/receipts/{receipt}", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") != poToken || !strings.HasSuffix(r.PathValue("receipt"), ".json") {
			t.Errorf("receipt poll %s", r.URL)
		}
		s.mu.Lock()
		s.polls++
		acked := s.polls > s.ackAfter
		s.mu.Unlock()
		if acked {
			io.WriteString(w, `{"status":1,"acknowledged":1,"acknowledged_at":1764440000,"acknowledged_by":"`+poUser+`","acknowledged_by_device":"annas-iphone","last_delivered_at":1764440000,"expired":0,"expires_at":1764443600,"called_back":0,"called_back_at":0,"request":"x"}`)
			return
		}
		io.WriteString(w, `{"status":1,"acknowledged":0,"acknowledged_at":0,"acknowledged_by":"","acknowledged_by_device":"","expired":0,"expires_at":1764443600,"request":"x"}`)
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *pushoverServer) got() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.messages...)
}

func TestPushover_MessageAndAlarmReceipt(t *testing.T) {
	srv := newPushoverServer(t)
	var logs hubtest.Buffer
	cfg := DefaultConfig().Pushover
	cfg.Token, cfg.API, cfg.Poll = poToken, srv.URL, hub.Duration(10*time.Millisecond)
	p := NewPushover(cfg, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	stop := hubtest.Run(t, "pushover", p.Run)
	hubtest.Eventually(t, "running", func() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.running })

	ctx := context.Background()
	if err := p.Send(ctx, poUser, Message{Title: "Larmade av", Body: "Anna larmade av med kod 18:02"}); err != nil {
		t.Fatal(err)
	}
	if err := p.Send(ctx, poUser, Message{Title: "BRAND", Body: "Kitchen smoke 18:02", Alarm: true}); err != nil {
		t.Fatal(err)
	}
	got := srv.got()
	want := []map[string]string{
		{"token": poToken, "user": poUser, "title": "Larmade av", "message": "Anna larmade av med kod 18:02", "priority": "0"},
		{"token": poToken, "user": poUser, "title": "BRAND", "message": "Kitchen smoke 18:02", "priority": "2", "retry": "60", "expire": "3600"},
	}
	for i, w := range want {
		if len(got[i]) != len(w) {
			t.Errorf("message %d: fields %v, want %v", i, got[i], w)
		}
		for k, v := range w {
			if got[i].Get(k) != v {
				t.Errorf("message %d: %s=%q, want %q", i, k, got[i].Get(k), v)
			}
		}
	}
	hubtest.Eventually(t, "the receipt acknowledged", func() bool { _, ok := p.Acknowledged("rcpt2"); return ok })
	r, _ := p.Acknowledged("rcpt2")
	if !r.Acknowledged || r.AcknowledgedBy != poUser || r.AcknowledgedByDevice != "annas-iphone" {
		t.Errorf("receipt %+v", r)
	}
	if !strings.Contains(logs.String(), "alarm acknowledged in Pushover") || !strings.Contains(logs.String(), "device=annas-iphone") {
		t.Errorf("log:\n%s", logs.String())
	}
	stop()

	err := NewPushover(PushoverConfig{Token: "wrong", API: srv.URL}, nil, nil).Send(ctx, poUser, Message{Body: "x"})
	if err == nil || !strings.Contains(err.Error(), "application token is invalid") || !errors.Is(err, ErrRejected) {
		t.Errorf("bad token: %v", err)
	}
}
