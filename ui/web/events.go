package web

import (
	"bufio"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"vakt/hub"
)

// keepAlive is how often an idle stream sends a comment, so a gone client is noticed.
const keepAlive = 15 * time.Second

// streamFormat writes one message of a stream.
type streamFormat func(w *bufio.Writer, name string, v any) error

// sse writes a server-sent event: the page's stream.
func sse(w *bufio.Writer, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b)
	return err
}

// ndjson writes one JSON object a line, {"type": name, "data": v}: the integrations' stream.
func ndjson(w *bufio.Writer, name string, v any) error {
	return json.NewEncoder(w).Encode(struct {
		Type string `json:"type"`
		Data any    `json:"data"`
	}{name, v})
}

// events is the panel's live stream: the state at once and after every committed step,
// and each committed event.
func (s *Server) events(c *fiber.Ctx) error { return s.stream(c, "text/event-stream", sse) }

// apiEvents is the same stream as JSON lines, for integrations.
func (s *Server) apiEvents(c *fiber.Ctx) error { return s.stream(c, "application/x-ndjson", ndjson) }

func (s *Server) stream(c *fiber.Ctx, contentType string, write streamFormat) error {
	c.Set(fiber.HeaderContentType, contentType)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Accel-Buffering", "no")
	sub := s.hub.Subscribe()
	quit := s.quit
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer sub.Close()
		tick := time.NewTicker(keepAlive)
		defer tick.Stop()
		if write(w, "state", s.view()) != nil || w.Flush() != nil {
			return
		}
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				if _, err := w.WriteString(": keep-alive\n\n"); err != nil || w.Flush() != nil {
					return
				}
				continue
			case <-sub.C():
			}
			u := sub.Next()
			if u.Closed {
				return
			}
			var evs []hub.Event
			if u.Lagged {
				// Read what was missed from the log, at most a page of it.
				evs, _ = s.store.Events(u.FromSeq-1, 500)
			} else {
				evs = u.Events
			}
			for _, ev := range evs {
				if write(w, "event", ev) != nil {
					return
				}
			}
			if write(w, "state", s.view()) != nil || w.Flush() != nil {
				return
			}
		}
	})
	return nil
}
