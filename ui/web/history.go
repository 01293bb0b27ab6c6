package web

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"vakt/hub"
)

const (
	historyPage = 50
	// historyScan bounds how many events one page reads looking for matches; the page's
	// "older" link goes on from where it stopped.
	historyScan = 20000
	historyRead = 500 // events read from the store at a time
)

// historyFilter selects events; every field set must match.
type historyFilter struct {
	Kind   string   // as given: one kind or several, comma-separated ("arm,disarm")
	Kinds  []string // Kind split
	Area   int
	User   string
	Device string
	From   time.Time // inclusive
	To     time.Time // exclusive (the day after the "to" date)
	FromS  string
	ToS    string
	Before uint64
}

func parseFilter(c *fiber.Ctx) (historyFilter, error) {
	f := historyFilter{Kind: c.Query("kind"), User: c.Query("user"), Device: c.Query("device"), FromS: c.Query("from"), ToS: c.Query("to")}
	if f.Kind != "" {
		for _, k := range strings.Split(f.Kind, ",") {
			if _, err := hub.ParseEventKind(k); err != nil {
				return f, invalid("kind")
			}
			f.Kinds = append(f.Kinds, k)
		}
	}
	if a := c.Query("area"); a != "" {
		n, err := strconv.Atoi(a)
		if err != nil || n < 0 {
			return f, invalid("area")
		}
		f.Area = n
	}
	if b := c.Query("before"); b != "" {
		n, err := strconv.ParseUint(b, 10, 64)
		if err != nil {
			return f, invalid("before")
		}
		f.Before = n
	}
	day := func(s string) (time.Time, error) { return time.ParseInLocation("2006-01-02", s, time.Local) }
	var err error
	if f.FromS != "" {
		if f.From, err = day(f.FromS); err != nil {
			return f, invalid("from")
		}
	}
	if f.ToS != "" {
		if f.To, err = day(f.ToS); err != nil {
			return f, invalid("to")
		}
		f.To = f.To.AddDate(0, 0, 1)
	}
	return f, nil
}

func (f historyFilter) match(ev hub.Event) bool {
	return (len(f.Kinds) == 0 || slices.Contains(f.Kinds, ev.Kind.String())) &&
		(f.Area == 0 || ev.Area == f.Area) &&
		(f.User == "" || ev.User == f.User) &&
		(f.Device == "" || ev.Device == f.Device) &&
		(f.From.IsZero() || !ev.Time.Before(f.From)) &&
		(f.To.IsZero() || ev.Time.Before(f.To))
}

// query writes the filter back as a query string, with before as given.
func (f historyFilter) query(before uint64) string {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("kind", f.Kind)
	if f.Area != 0 {
		q.Set("area", strconv.Itoa(f.Area))
	}
	set("user", f.User)
	set("device", f.Device)
	set("from", f.FromS)
	set("to", f.ToS)
	if before != 0 {
		q.Set("before", strconv.FormatUint(before, 10))
	}
	return q.Encode()
}

// scan walks the log newest first from f.Before, calling each for every match until it
// returns false. It stops at the start of the log, before f.From (the log is in time
// order), or after max events read; next is where to go on from (0: nothing older). Events
// the filter rules out from their stored JSON alone are not decoded (f.candidate).
func (s *Server) scan(f historyFilter, max int, each func(hub.Event) bool) (next uint64, err error) {
	pre := f.prefilter()
	before, read := f.Before, 0
	for {
		var (
			last     uint64
			done     bool
			stopNext uint64
			derr     error
		)
		n, err := s.store.HistoryRaw(before, historyRead, func(seq uint64, raw []byte) bool {
			read++
			last = seq
			stop := func(next uint64) bool { done, stopNext = true, next; return false }
			if !f.From.IsZero() {
				if t, ok := rawTime(raw); ok && t.Before(f.From) {
					return stop(0)
				}
			}
			if pre.candidate(raw) {
				var ev hub.Event
				if err := json.Unmarshal(raw, &ev); err != nil {
					derr = fmt.Errorf("event %d: %w", seq, err)
					return false
				}
				if !f.From.IsZero() && ev.Time.Before(f.From) {
					return stop(0)
				}
				if f.match(ev) && !each(ev) {
					return stop(seq - 1)
				}
			}
			if max > 0 && read >= max {
				return stop(seq - 1)
			}
			return true
		})
		if err != nil {
			return 0, err
		}
		if derr != nil {
			return 0, derr
		}
		if done {
			return stopNext, nil
		}
		if n < historyRead || last <= 1 {
			return 0, nil
		}
		before = last - 1
	}
}

// prefilter is what a filter's fields look like in an event's stored JSON: the store
// writes events with encoding/json, so an event whose kind is "fire" holds `"kind":"fire"`
// verbatim (JSON strings escape their quotes, so the pattern cannot come from inside one).
// A needle missing rules the event out without decoding it; a needle present proves
// nothing, and the decoded event is matched in full.
type prefilter [][]byte

func (f historyFilter) prefilter() prefilter {
	var p prefilter
	str := func(key, v string) {
		if v != "" {
			b, _ := json.Marshal(v)
			p = append(p, append([]byte(`"`+key+`":`), b...))
		}
	}
	if len(f.Kinds) == 1 { // several kinds are alternatives: no one needle must be there
		str("kind", f.Kinds[0])
	}
	str("user", f.User)
	str("device", f.Device)
	if f.Area != 0 {
		p = append(p, []byte(`"area":`+strconv.Itoa(f.Area)+`,`))
	}
	return p
}

func (p prefilter) candidate(raw []byte) bool {
	for _, needle := range p {
		if !bytes.Contains(raw, needle) {
			return false
		}
	}
	return true
}

// rawTime reads an event's time from its stored JSON without decoding the rest: the first
// "time" key is the event's own (its second field).
func rawTime(raw []byte) (time.Time, bool) {
	const key = `"time":"`
	i := bytes.Index(raw, []byte(key))
	if i < 0 {
		return time.Time{}, false
	}
	rest := raw[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:j]))
	return t, err == nil
}

// historyView is the history page's data.
type historyView struct {
	Filter historyFilter
	Events []hub.Event
	Older  template.URL // query of the next page, empty when none (url.Values.Encode: safe in a URL)
	CSV    template.URL
	Kinds  []string
	Users  []hub.User
	Areas  []hub.Area
	// Comings is one link per user to their arming and disarming ("when did the kids come
	// home"), newest first.
	Comings []quickFilter
}

// quickFilter is a one-tap history filter.
type quickFilter struct {
	Name    string
	Query   template.URL
	Current bool
}

// comingsKinds are the kinds of a user's comings and goings.
const comingsKinds = "arm,disarm"

func comings(users []hub.User, f historyFilter) []quickFilter {
	var q []quickFilter
	for _, u := range users {
		qf := historyFilter{Kind: comingsKinds, User: u.ID}
		q = append(q, quickFilter{Name: u.Name, Query: template.URL(qf.query(0)),
			Current: f.Kind == comingsKinds && f.User == u.ID && f.Area == 0 && f.Device == "" && f.FromS == "" && f.ToS == ""})
	}
	return q
}

// historyPage reads one page of matching events.
func (s *Server) historyPage(f historyFilter) ([]hub.Event, uint64, error) {
	evs := []hub.Event{}
	next, err := s.scan(f, historyScan, func(ev hub.Event) bool {
		evs = append(evs, ev)
		return len(evs) < historyPage
	})
	return evs, next, err
}

// history is the history page: every event as a table, filtered, newest first.
func (s *Server) history(c *fiber.Ctx) error {
	f, err := parseFilter(c)
	if err != nil {
		return err
	}
	evs, next, err := s.historyPage(f)
	if err != nil {
		return err
	}
	inst := s.hub.Snapshot().Installation
	v := historyView{Filter: f, Events: evs, CSV: template.URL(f.query(f.Before)), Users: inst.Users, Areas: inst.Areas, Comings: comings(inst.Users, f)}
	if next != 0 {
		v.Older = template.URL(f.query(next))
	}
	for k := hub.KindArm; k.String() != "kind("+strconv.Itoa(int(k))+")"; k++ {
		v.Kinds = append(v.Kinds, k.String())
	}
	return s.render(c, http.StatusOK, "history", page{Title: translate(lang(c), "history"), Data: v})
}

// historyCSV streams every matching event as CSV, never holding the set in memory.
func (s *Server) historyCSV(c *fiber.Ctx) error {
	f, err := parseFilter(c)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="vakt-history.csv"`)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		cw := csv.NewWriter(w)
		cw.Write([]string{"seq", "time", "area", "kind", "restore", "mode", "zone", "zone_name", "device", "device_name", "user", "how", "note", "reported"})
		n := 0
		_, err := s.scan(f, 0, func(ev hub.Event) bool {
			mode := ""
			if ev.Mode != hub.ModeDisarmed {
				mode = ev.Mode.String()
			}
			cw.Write([]string{strconv.FormatUint(ev.Seq, 10), ev.Time.Format(time.RFC3339), strconv.Itoa(ev.Area), ev.Kind.String(),
				strconv.FormatBool(ev.Restore), mode, strconv.Itoa(ev.Zone), ev.ZoneName, ev.Device, ev.DeviceName, ev.User,
				ev.How.String(), ev.Note, strconv.FormatBool(ev.Report)})
			if n++; n%500 == 0 {
				cw.Flush()
				if w.Flush() != nil {
					return false
				}
			}
			return true
		})
		if err != nil {
			s.log.Error("history export", "error", err)
		}
		cw.Flush()
		w.Flush()
	})
	return nil
}
