package devices

import (
	"context"
	"log/slog"
	"time"

	"vakt/hub"
)

// DefaultBusGrace is how long a driver may be off its MQTT broker before it is a fault: a
// broker restart or a short network cut is no news, a driver kicked off for good is.
const DefaultBusGrace = 60 * time.Second

// BusHub is what a BusWatch needs of the hub.
type BusHub interface {
	Submit(ctx context.Context, in hub.Input) error
	Snapshot() *hub.Snapshot
}

// BusWatch watches one driver's connection to its MQTT broker. A connection lost is logged
// at once; one not back within Grace raises the hub's device-bus fault for the driver (the
// sensors it reads go unheard, so by default the house cannot be armed), and the connection
// coming back restores it. It also counts from the start: a broker never reached is a fault.
type BusWatch struct {
	driver string
	grace  time.Duration
	hub    BusHub
	log    *slog.Logger
	// connected tells the truth about the connection; nudges only say when to look, so
	// that callbacks arriving out of order do no harm.
	connected func() bool
	nudge     chan struct{}
	// poll is how often the connection is looked at without a nudge.
	poll time.Duration
}

// NewBusWatch returns a watch of driver's connection, which connected reports; grace 0
// means DefaultBusGrace. Call Lost and Connected from the client's callbacks, and Run.
func NewBusWatch(driver string, connected func() bool, grace time.Duration, h BusHub, logger *slog.Logger) *BusWatch {
	if grace <= 0 {
		grace = DefaultBusGrace
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &BusWatch{driver: driver, grace: grace, hub: h, log: logger.With("driver", driver),
		connected: connected, nudge: make(chan struct{}, 1), poll: min(grace/4, time.Second)}
}

// Lost tells the watch the connection was lost; it never blocks.
func (w *BusWatch) Lost(error) { w.poke() }

// Connected tells the watch the client (re)connected; it never blocks.
func (w *BusWatch) Connected() { w.poke() }

func (w *BusWatch) poke() {
	select {
	case w.nudge <- struct{}{}:
	default:
	}
}

// Run watches until ctx ends.
func (w *BusWatch) Run(ctx context.Context) error {
	tick := time.NewTicker(w.poll)
	defer tick.Stop()
	// Not connected yet counts as lost from the start, quietly: the first connection is
	// no news, a broker never reached is a fault after the grace.
	lostSince, starting := time.Now(), true
	faulted := w.faulted() // raised before a restart, until the connection is back
	for {
		now := time.Now()
		switch up := w.connected(); {
		case up && (faulted || !lostSince.IsZero()):
			if faulted {
				w.submit(ctx, false, "connected again")
				faulted = false
			}
			if !starting {
				w.log.Info("device bus: driver back on the MQTT broker", "after", now.Sub(lostSince).Round(time.Millisecond))
			}
			lostSince, starting = time.Time{}, false
		case !up && lostSince.IsZero():
			lostSince = now
			w.log.Warn("device bus: driver off the MQTT broker; a fault if not back in "+w.grace.String(), "grace", w.grace)
		case !up && !faulted && now.Sub(lostSince) >= w.grace:
			w.log.Error("device bus: driver off the MQTT broker too long: its sensors are unheard", "since", lostSince.Format(time.RFC3339))
			w.submit(ctx, true, "off the MQTT broker since "+lostSince.Format("15:04:05"))
			faulted = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.nudge:
		case <-tick.C:
		}
	}
}

// faulted reports whether the hub holds the driver's bus fault.
func (w *BusWatch) faulted() bool {
	for _, d := range w.hub.Snapshot().State.BusFaults {
		if d == w.driver {
			return true
		}
	}
	return false
}

func (w *BusWatch) submit(ctx context.Context, active bool, why string) {
	if err := w.hub.Submit(ctx, hub.Input{Kind: hub.InBusFault, Device: w.driver, Active: active, Path: why}); err != nil && ctx.Err() == nil {
		w.log.Error("device bus fault to hub", "error", err)
	}
}
