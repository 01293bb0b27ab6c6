// Package photos takes alarm photos for the monitoring station (DESIGN §2 item 20): on a
// burglary or fire alarm, the cameras of the alarm's area are photographed (a burst for a
// burglary, one photo every fire_interval while a fire lasts); each photo is encrypted to
// the station's age key as it is read, kept under the data directory, delivered over the
// MQTT uplink, and deleted after the retention unless the station holds it for an
// investigation. Nobody local can see a photo: the history says only that photos were
// taken and sent.
//
// It lives under uplink/ because photos exist only to reach the station: the package is
// a delivery path with its own durable queue (the archive), beside DC-09 and MQTT, and
// nothing in ui/ may ever show one.
package photos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"

	"vakt/hub"
)

// ErrNotJPEG is a camera's answer that is not a JPEG picture (an error page, say).
var ErrNotJPEG = errors.New("camera sent something other than a JPEG picture")

// Sender delivers a payload to the station on a topic under the uplink's own
// (photos/<alarm>) and returns once the station's broker acknowledged it. The MQTT uplink
// is one.
type Sender interface {
	Send(ctx context.Context, topic string, payload []byte) error
}

// chunkSize is the most sealed bytes one message carries (base64 adds a third).
const chunkSize = 64 << 10

// Message is one chunk of a sealed photo as the station receives it on
// <prefix>/<hub_id>/photos/<alarm>, JSON. The station joins chunks 0..Chunks-1 of a photo
// ID in order and decrypts the result with its age identity: a JPEG.
type Message struct {
	ID     string    `json:"id"`
	Alarm  uint64    `json:"alarm"`
	Kind   string    `json:"kind"`
	Area   int       `json:"area"`
	Camera string    `json:"camera"`
	N      int       `json:"n"`
	Taken  time.Time `json:"taken"`
	Chunk  int       `json:"chunk"`
	Chunks int       `json:"chunks"`
	Data   []byte    `json:"data"` // base64 in JSON
}

// Options are what Photos needs besides its config.
type Options struct {
	Logger *slog.Logger
	// Client makes the snapshot requests; nil means a default client.
	Client *http.Client
	// Reference is the verification reference's prefix: an alarm with photos is reported
	// with [V<Reference>/<alarm seq>] (the MQTT topic its photos arrive on).
	Reference string
}

// Photos photographs alarms, keeps the photos sealed, delivers them and prunes them.
type Photos struct {
	cfg     Config
	hub     *hub.Hub
	send    Sender
	log     *slog.Logger
	ref     string
	archive *Archive
	cams    []*camera
	wake    chan struct{}
	started atomic.Bool

	mu    sync.Mutex
	fires map[int]bool // areas with a fire series running
	// series counts each alarm's camera series running; sent its photos delivered and not
	// yet in the history, which says once per alarm, when its series are over, how many went.
	series map[uint64]int
	sent   map[uint64]sentCount
	wg     sync.WaitGroup
}

type sentCount struct{ area, n int }

// New returns Photos for cfg (validated) storing under dataDir/photos, sealed to the
// station's recipient to, delivering with send. It opens the archive (removing a crash's
// leftovers) and starts nothing.
func New(cfg Config, h *hub.Hub, dataDir string, to age.Recipient, send Sender, opts Options) (*Photos, error) {
	if h == nil || send == nil {
		return nil, errors.New("new photos: needs a hub and a sender")
	}
	a, err := OpenArchive(filepath.Join(dataDir, "photos"), to)
	if err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Photos{cfg: cfg, hub: h, send: send, log: opts.Logger.With("part", "photos"), ref: opts.Reference, archive: a,
		wake: make(chan struct{}, 1), fires: map[int]bool{}, series: map[uint64]int{}, sent: map[uint64]sentCount{}}
	for _, c := range cfg.Cameras {
		p.cams = append(p.cams, newCamera(c, opts.Client))
	}
	return p, nil
}

// Archive returns the photo archive.
func (p *Photos) Archive() *Archive { return p.archive }

// photographs reports whether ev is an alarm Photos photographs.
func (p *Photos) photographs(ev hub.Event) bool {
	if ev.Restore || (ev.Kind != hub.KindBurglary && ev.Kind != hub.KindFire) {
		return false
	}
	for _, c := range p.cams {
		if c.cfg.covers(ev.Area) {
			return true
		}
	}
	return false
}

// Verification returns the reference an alarm's report carries to its photos (see
// uplink.Uplink.SetVerification), "" for events without photos.
func (p *Photos) Verification(ev hub.Event) string {
	if p.ref == "" || !p.photographs(ev) {
		return ""
	}
	return fmt.Sprintf("%s/%d", p.ref, ev.Seq)
}

// Run photographs alarms, delivers and prunes until ctx ends, and waits for every photo
// under way.
func (p *Photos) Run(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return errors.New("photos: Run called twice")
	}
	var wg sync.WaitGroup
	wg.Go(func() { p.deliverLoop(ctx) })
	wg.Go(func() { p.pruneLoop(ctx) })
	p.watch(ctx)
	wg.Wait()
	p.wg.Wait()
	return nil
}

// watch starts photos for every committed alarm that has cameras.
func (p *Photos) watch(ctx context.Context) {
	sub := p.hub.Subscribe()
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.C():
		}
		u := sub.Next()
		if u.Closed {
			return
		}
		// A lagging subscriber sees no events: those alarms are too old to photograph.
		for _, ev := range u.Events {
			if p.photographs(ev) {
				p.alarm(ctx, ev)
			}
		}
	}
}

// alarm starts the photos of one alarm: a burst per camera for a burglary, a series per
// camera for a fire in an area without one running.
func (p *Photos) alarm(ctx context.Context, ev hub.Event) {
	fire := ev.Kind == hub.KindFire
	if fire {
		p.mu.Lock()
		running := p.fires[ev.Area]
		p.fires[ev.Area] = true
		p.mu.Unlock()
		if running {
			return
		}
	}
	var cams sync.WaitGroup
	for _, c := range p.cams {
		if !c.cfg.covers(ev.Area) {
			continue
		}
		cams.Add(1)
		p.mu.Lock()
		p.series[ev.Seq]++
		p.mu.Unlock()
		p.wg.Go(func() {
			defer cams.Done()
			p.shoot(ctx, c, ev)
			p.mu.Lock()
			p.series[ev.Seq]--
			if p.series[ev.Seq] == 0 {
				delete(p.series, ev.Seq)
			}
			p.mu.Unlock()
			p.poke() // the delivery says in the history what went
		})
	}
	if fire {
		p.wg.Go(func() {
			cams.Wait()
			p.mu.Lock()
			delete(p.fires, ev.Area)
			p.mu.Unlock()
		})
	}
}

// shoot takes one camera's photos of an alarm and records in the history how many.
func (p *Photos) shoot(ctx context.Context, c *camera, ev hub.Event) {
	log := p.log.With("camera", c.cfg.Name, "area", ev.Area, "alarm", ev.Seq)
	interval, count, until := p.cfg.Burglar.Interval.D(), p.cfg.Burglar.Count, time.Time{}
	if ev.Kind == hub.KindFire {
		interval, count, until = p.cfg.FireInterval.D(), maxPerAlarm, time.Now().Add(p.cfg.FireMax.D())
	}
	taken, failed := 0, 0
	var lastErr error
	t := time.NewTimer(0)
	defer t.Stop()
	for n := 1; n <= count; n++ {
		select {
		case <-ctx.Done():
			p.record(ev, c, taken, failed, lastErr)
			return
		case <-t.C:
		}
		t.Reset(interval)
		if ev.Kind == hub.KindFire && n > 1 && (time.Now().After(until) || !fireLasts(p.hub.Snapshot(), ev.Area)) {
			break
		}
		photo := Photo{Alarm: ev.Seq, Kind: ev.Kind.String(), Area: ev.Area, Camera: c.cfg.Name, N: n, Taken: time.Now().UTC()}
		if _, err := p.archive.Add(photo, func(w io.Writer) error { return p.take(ctx, c, w) }); err != nil {
			failed++
			lastErr = err
			log.Warn("no photo", "n", n, "error", err)
			continue
		}
		taken++
		p.poke()
	}
	p.record(ev, c, taken, failed, lastErr)
}

// take copies one snapshot into w, refusing what is not a JPEG.
func (p *Photos) take(ctx context.Context, c *camera, w io.Writer) error {
	s := &sniffer{w: w}
	if _, err := c.snapshot(ctx, s, p.cfg.MaxSize); err != nil {
		return err
	}
	if !isJPEG(s.head) {
		return ErrNotJPEG
	}
	return nil
}

// sniffer passes writes on and keeps the first bytes, to check the picture's type without
// it ever being written in the clear.
type sniffer struct {
	w    io.Writer
	head []byte
}

func (s *sniffer) Write(b []byte) (int, error) {
	if n := len(jpegMagic) - len(s.head); n > 0 {
		s.head = append(s.head, b[:min(n, len(b))]...)
	}
	return s.w.Write(b)
}

// fireLasts reports whether area's fire alarm goes on: its fire siren sounds, or one of
// its fire zones still detects.
func fireLasts(s *hub.Snapshot, area int) bool {
	for _, a := range s.State.Areas {
		if a.Number == area && a.Siren == hub.SirenFire {
			return true
		}
	}
	fireZones := map[int]bool{}
	for _, z := range s.Installation.Zones {
		if z.Area == area && z.Type == hub.ZoneFire {
			fireZones[z.Number] = true
		}
	}
	for _, z := range s.State.Zones {
		if z.Active && fireZones[z.Number] {
			return true
		}
	}
	return false
}

// record writes a camera's photos of an alarm into the history: how many, never what.
func (p *Photos) record(ev hub.Event, c *camera, taken, failed int, lastErr error) {
	note := fmt.Sprintf("%s taken by camera %s for alarm #%d", count(taken), c.cfg.Name, ev.Seq)
	if failed > 0 {
		note += fmt.Sprintf(", %d failed (%s)", failed, short(lastErr))
	}
	p.logEvent(ev.Area, note)
}

// count says how many photos, in words.
func count(n int) string {
	if n == 1 {
		return "1 photo"
	}
	return fmt.Sprintf("%d photos", n)
}

func short(err error) string {
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

// logEvent adds a photos event to the history; the hub may have stopped at shutdown.
func (p *Photos) logEvent(area int, note string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if r := p.hub.Do(ctx, hub.Input{Kind: hub.InPhotos, Area: area, How: hub.HowSystem, Path: note}); r.Err != nil {
		p.log.Warn("photos event not logged", "note", note, "error", r.Err)
	}
}

func (p *Photos) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Delivery retries: from minRetry, doubling to maxRetry; safetyTick looks again anyway.
const (
	minRetry   = time.Second
	maxRetry   = time.Minute
	safetyTick = time.Minute
)

// deliverLoop sends queued photos, oldest first, whenever one is added, a retry is due or
// the safety tick fires; after a restart the queue is the archive's unsent photos.
func (p *Photos) deliverLoop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	attempt := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-t.C:
		}
		err := p.deliver(ctx)
		if ctx.Err() != nil {
			return
		}
		d := safetyTick
		if err != nil {
			d = min(minRetry<<min(attempt, 8), maxRetry)
			attempt++
			p.log.Warn("photos not delivered, retrying", "in", d, "error", err)
		} else {
			attempt = 0
		}
		t.Reset(d)
	}
}

// deliver sends every queued photo, in chunks, and marks each sent once every chunk is
// acknowledged. The history gets one line per alarm once its series are over and its
// photos all sent.
func (p *Photos) deliver(ctx context.Context) error {
	defer p.recordSent()
	queue, err := p.archive.Pending()
	if err != nil {
		return err
	}
	for _, ph := range queue {
		if err := p.sendPhoto(ctx, ph); err != nil {
			return err
		}
		if err := p.archive.MarkSent(ph.ID, time.Now().UTC()); err != nil {
			return err
		}
		p.mu.Lock()
		c := p.sent[ph.Alarm]
		p.sent[ph.Alarm] = sentCount{area: ph.Area, n: c.n + 1}
		p.mu.Unlock()
	}
	return nil
}

// recordSent writes "N photos of alarm #A sent" for the alarms whose series are over and
// whose photos are all delivered.
func (p *Photos) recordSent() {
	queue, err := p.archive.Pending()
	if err != nil {
		return
	}
	waiting := map[uint64]bool{}
	for _, ph := range queue {
		waiting[ph.Alarm] = true
	}
	p.mu.Lock()
	var done []uint64
	for alarm := range p.sent {
		if p.series[alarm] == 0 && !waiting[alarm] {
			done = append(done, alarm)
		}
	}
	counts := map[uint64]sentCount{}
	for _, alarm := range done {
		counts[alarm] = p.sent[alarm]
		delete(p.sent, alarm)
	}
	p.mu.Unlock()
	for _, alarm := range done {
		c := counts[alarm]
		p.logEvent(c.area, fmt.Sprintf("%s of alarm #%d sent to the station", count(c.n), alarm))
	}
}

func (p *Photos) sendPhoto(ctx context.Context, ph Photo) error {
	sealed, err := p.archive.Sealed(ph.ID)
	if err != nil {
		return err
	}
	chunks := (len(sealed) + chunkSize - 1) / chunkSize
	for i := range chunks {
		m := Message{ID: ph.ID, Alarm: ph.Alarm, Kind: ph.Kind, Area: ph.Area, Camera: ph.Camera, N: ph.N, Taken: ph.Taken,
			Chunk: i, Chunks: chunks, Data: sealed[i*chunkSize : min((i+1)*chunkSize, len(sealed))]}
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		if err := p.send.Send(ctx, fmt.Sprintf("photos/%d", ph.Alarm), b); err != nil {
			return fmt.Errorf("send photo %s: %w", ph.ID, err)
		}
	}
	return nil
}

// pruneEvery is how often retention is applied.
const pruneEvery = time.Hour

// pruneLoop deletes photos past their retention at start and every pruneEvery.
func (p *Photos) pruneLoop(ctx context.Context) {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		p.prune(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// prune applies retention at now and logs what it deleted.
func (p *Photos) prune(now time.Time) {
	gone, err := p.archive.Prune(now, p.cfg.Retention.D())
	if err != nil {
		p.log.Error("delete old photos", "error", err)
	}
	if len(gone) == 0 {
		return
	}
	p.log.Info("old photos deleted", "photos", len(gone))
	byAlarm := map[uint64]sentCount{}
	var order []uint64
	for _, ph := range gone {
		c, ok := byAlarm[ph.Alarm]
		if !ok {
			order = append(order, ph.Alarm)
		}
		byAlarm[ph.Alarm] = sentCount{area: ph.Area, n: c.n + 1}
	}
	for _, alarm := range order {
		c := byAlarm[alarm]
		p.logEvent(c.area, fmt.Sprintf("%s of alarm #%d deleted: retention over", count(c.n), alarm))
	}
}

// HoldRequest is the station's signed request (kinds photo_hold and photo_release) naming
// an alarm whose photos to keep for an investigation, or to release.
type HoldRequest struct {
	Alarm uint64 `json:"alarm"`
}

// HoldAnswer answers a hold or release.
type HoldAnswer struct {
	Alarm  uint64    `json:"alarm"`
	Photos int       `json:"photos"`
	Until  time.Time `json:"until,omitzero"`
}

// Hold keeps an alarm's photos for hold_retention from when they were taken: the station's
// signed photo_hold request (verified by the uplink). It is a station request handler.
func (p *Photos) Hold(_ context.Context, req []byte, now time.Time) (any, error) {
	var r HoldRequest
	if err := json.Unmarshal(req, &r); err != nil || r.Alarm == 0 {
		return nil, errors.New("malformed hold: want {\"alarm\": <sequence>}")
	}
	photos, err := p.archive.List()
	if err != nil {
		return nil, err
	}
	var first time.Time
	area := 0
	for _, ph := range photos {
		if ph.Alarm == r.Alarm && (first.IsZero() || ph.Taken.Before(first)) {
			first, area = ph.Taken, ph.Area
		}
	}
	if first.IsZero() {
		return nil, fmt.Errorf("%w: #%d", ErrUnknownAlarm, r.Alarm)
	}
	until := first.Add(p.cfg.HoldRetention.D())
	n, err := p.archive.Hold(r.Alarm, until)
	if err != nil {
		return nil, err
	}
	p.logEvent(area, fmt.Sprintf("station holds %s of alarm #%d for an investigation, until %s", count(n), r.Alarm, until.Format("2006-01-02")))
	return HoldAnswer{Alarm: r.Alarm, Photos: n, Until: until}, nil
}

// Release ends a hold: the station's signed photo_release request.
func (p *Photos) Release(_ context.Context, req []byte, now time.Time) (any, error) {
	var r HoldRequest
	if err := json.Unmarshal(req, &r); err != nil || r.Alarm == 0 {
		return nil, errors.New("malformed release: want {\"alarm\": <sequence>}")
	}
	n, err := p.archive.Release(r.Alarm)
	if err != nil {
		return nil, fmt.Errorf("%w: #%d", err, r.Alarm)
	}
	p.prune(now)
	p.logEvent(0, fmt.Sprintf("station released the hold on %s of alarm #%d", count(n), r.Alarm))
	return HoldAnswer{Alarm: r.Alarm, Photos: n}, nil
}
