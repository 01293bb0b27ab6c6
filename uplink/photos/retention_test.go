package photos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
)

// ids lists the archive's photo IDs.
func ids(t *testing.T, a *Archive) []string {
	t.Helper()
	list, err := a.List()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range list {
		out = append(out, p.ID)
	}
	slices.Sort(out)
	return out
}

// TestPhotos_Retention: photos go 14 days after they were taken, delivered or not; a
// station's hold keeps an alarm's photos 30 days, and a release lets them go at once if
// they are past their 14. Days pass in a synctest bubble.
func TestPhotos_Retention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := hubtest.StartHub(t, hubtest.StorePath(t), hub.DemoInstallation(bytes.Repeat([]byte{7}, 32)), hub.Options{})
		a, err := OpenArchive(t.TempDir(), mustIdentity(t).Recipient())
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{}
		mustValidate(t, &cfg)
		p := &Photos{cfg: cfg, hub: h, archive: a, log: discard()}
		start := time.Now()
		for alarm := uint64(1); alarm <= 3; alarm++ {
			if _, err := a.Add(Photo{Alarm: alarm, Area: 1, Camera: "hall", N: 1, Taken: start}, put(testJPEG(100))); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go p.pruneLoop(ctx)

		hold := func(kind string, alarm uint64) (HoldAnswer, error) {
			req, _ := json.Marshal(map[string]any{"hub_id": "home", "ts": time.Now().Unix(), "nonce": "n-" + kind, "alarm": alarm})
			f := p.Hold
			if kind == "release" {
				f = p.Release
			}
			ans, err := f(ctx, req, time.Now())
			if err != nil {
				return HoldAnswer{}, err
			}
			return ans.(HoldAnswer), nil
		}
		for _, alarm := range []uint64{2, 3} {
			if ans, err := hold("hold", alarm); err != nil || ans.Photos != 1 || !ans.Until.Equal(start.Add(30*24*time.Hour)) {
				t.Fatalf("hold %d: %+v %v", alarm, ans, err)
			}
		}
		if _, err := hold("hold", 99); !errors.Is(err, ErrUnknownAlarm) {
			t.Fatalf("hold of an alarm without photos: %v", err)
		}
		if _, err := p.Hold(ctx, []byte(`{"alarm":"x"}`), time.Now()); err == nil {
			t.Fatal("a malformed hold")
		}

		time.Sleep(14*24*time.Hour - time.Hour)
		synctest.Wait()
		if got := ids(t, a); len(got) != 3 {
			t.Fatalf("13 days 23 hours: %v", got)
		}
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if got := ids(t, a); strings.Join(got, " ") != "2-hall-1 3-hall-1" {
			t.Fatalf("after 14 days: %v, want the held ones only", got)
		}
		// Released past its 14 days: gone at once.
		if ans, err := hold("release", 3); err != nil || ans.Photos != 1 {
			t.Fatalf("release: %+v %v", ans, err)
		}
		if got := ids(t, a); strings.Join(got, " ") != "2-hall-1" {
			t.Fatalf("after the release: %v", got)
		}
		if _, err := hold("release", 3); !errors.Is(err, ErrUnknownAlarm) {
			t.Fatalf("release of deleted photos: %v", err)
		}
		time.Sleep(16*24*time.Hour - 2*time.Hour)
		synctest.Wait()
		if got := ids(t, a); len(got) != 1 {
			t.Fatalf("29 days 23 hours: %v", got)
		}
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if got := ids(t, a); len(got) != 0 {
			t.Fatalf("after 30 days: %v", got)
		}
		evs, err := h.Store().History(0, 10)
		if err != nil {
			t.Fatal(err)
		}
		var notes []string
		for _, ev := range evs {
			if ev.Kind == hub.KindPhotos {
				notes = append(notes, ev.Note)
			}
		}
		all := strings.Join(notes, "|")
		if len(notes) != 6 || !strings.Contains(all, "station holds 1 photo of alarm #2 for an investigation") ||
			!strings.Contains(all, "1 photo of alarm #1 deleted: retention over") || !strings.Contains(all, "1 photo of alarm #2 deleted") {
			t.Fatalf("history: %q", notes)
		}
		cancel()
	})
}
