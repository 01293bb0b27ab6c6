// Package metrics exposes vakt's health to Prometheus: what the hub logged and decided,
// how far behind each monitoring station is, when each device last spoke, what the store
// wrote and how the family's notifications fare.
//
// Almost everything is read when Prometheus scrapes (a Collector over the parts' status
// methods), so no hot path pays for metrics. Three things are counted as they happen: the
// committed events (from a hub subscription), and the commit and siren latencies, which
// the hub hands to ObserveCommit and ObserveSiren.
//
// The metrics live in a registry of their own, never Prometheus's global one.
package metrics

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"vakt/devices"
	"vakt/hub"
	"vakt/ui/notify"
	"vakt/uplink"
)

// Hub is what the metrics read of the hub: its committed events, its snapshot and its
// store.
type Hub interface {
	Subscribe() *hub.Subscription
	Snapshot() *hub.Snapshot
	Store() *hub.Store
}

// Uplink is the monitoring station's delivery status.
type Uplink interface {
	Status() []uplink.ReceiverStatus
}

// Devices is the device manager's view of the devices and drivers.
type Devices interface {
	Health() map[string]devices.Health
	MalformedByDriver() map[string]uint64
}

// Broker is the embedded MQTT broker.
type Broker interface {
	Clients() int64
}

// Notifier is the family's notifications.
type Notifier interface {
	Status() notify.Status
}

// Parts are what the metrics read. Hub is required; the others are nil when vakt runs
// without them (no station, an external broker, no recipients).
type Parts struct {
	Hub      Hub
	Uplink   Uplink
	Devices  Devices
	Broker   Broker
	Notifier Notifier
}

// Options tune the metrics.
type Options struct {
	// Version is vakt's version, for vakt_build_info.
	Version string
	// Now is the clock ages are measured with; nil means time.Now.
	Now func() time.Time
}

// Metrics is vakt's Prometheus registry and its collectors. New makes it (before the hub,
// whose latencies it observes); Watch subscribes to the hub before it runs; Attach gives it
// the other parts; Run counts committed events; Handler serves the text format.
type Metrics struct {
	reg *prometheus.Registry
	now func() time.Time

	events         *prometheus.CounterVec
	alarms         *prometheus.CounterVec
	commits        prometheus.Histogram
	commitFailures prometheus.Counter
	siren          prometheus.Histogram

	mu    sync.Mutex
	parts Parts
	sub   *hub.Subscription
}

// Commit latency buckets: a fdatasync is a fraction of a millisecond on an SSD and tens of
// milliseconds on an SD card.
var commitBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// Siren latency buckets: the target is a few milliseconds from the input to the output.
var sirenBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}

// alarmKinds are the kinds counted as alarms.
var alarmKinds = []hub.EventKind{hub.KindBurglary, hub.KindFire, hub.KindPanic, hub.KindDuress, hub.KindTamper, hub.KindWater, hub.KindTechnical}

// New returns the metrics with their registry: vakt's own families, the Go runtime's and
// the process's. It starts nothing.
func New(opts Options) *Metrics {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		now: opts.Now,
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vakt_events_total",
			Help: "Events committed to the event log since start, by kind.",
		}, []string{"kind"}),
		alarms: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vakt_alarms_total",
			Help: "Alarms reported since start, by kind (an entry-route alarm disarmed during its local warning is none).",
		}, []string{"kind"}),
		commits: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vakt_commit_duration_seconds",
			Help:    "Time to commit a group of decided events and the state to the store (one bbolt transaction, fsync included).",
			Buckets: commitBuckets,
		}),
		commitFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vakt_commit_failures_total",
			Help: "Commits the store refused (the hub runs from memory and retries).",
		}),
		siren: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vakt_siren_latency_seconds",
			Help:    "Time from an input reaching the hub to the siren output it started being handed to the outputs.",
			Buckets: sirenBuckets,
		}),
	}
	for _, k := range hub.EventKinds() {
		m.events.WithLabelValues(k.String())
	}
	for _, k := range alarmKinds {
		m.alarms.WithLabelValues(k.String())
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "vakt_build_info",
		Help:        "vakt's version, as a label; the value is 1.",
		ConstLabels: prometheus.Labels{"version": opts.Version},
	})
	build.Set(1)
	m.reg.MustRegister(m.events, m.alarms, m.commits, m.commitFailures, m.siren, build, &parts{m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveCommit records one commit; pass it as hub.Options.OnCommit.
func (m *Metrics) ObserveCommit(took time.Duration, _ int, err error) {
	if err != nil {
		m.commitFailures.Inc()
		return
	}
	m.commits.Observe(took.Seconds())
}

// ObserveSiren records one siren latency; pass it as hub.Options.OnSiren.
func (m *Metrics) ObserveSiren(took time.Duration) { m.siren.Observe(took.Seconds()) }

// Watch subscribes to the hub's committed events, so that none logged from now on goes
// uncounted: call it before the hub runs, and before Run.
func (m *Metrics) Watch(h Hub) {
	sub := h.Subscribe()
	sub.Next() // the snapshot it starts from: events from here on
	m.mu.Lock()
	m.parts.Hub, m.sub = h, sub
	m.mu.Unlock()
}

// Attach gives the metrics the parts they read at each scrape; p.Hub, if set, must be the
// watched hub. Parts vakt runs without stay nil.
func (m *Metrics) Attach(p Parts) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p.Hub == nil {
		p.Hub = m.parts.Hub
	}
	m.parts = p
}

// Run counts committed events until ctx ends. A subscription that fell behind reads what
// it missed from the store, so the counts stay exact.
func (m *Metrics) Run(ctx context.Context) error {
	m.mu.Lock()
	sub, h := m.sub, m.parts.Hub
	m.mu.Unlock()
	if sub == nil {
		return fmt.Errorf("metrics: Run before Watch")
	}
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sub.C():
		}
		u := sub.Next()
		if u.Closed {
			return nil
		}
		evs, err := u.CommittedEvents(h.Store())
		if err != nil {
			return fmt.Errorf("metrics: read missed events: %w", err)
		}
		for _, ev := range evs {
			m.count(ev)
		}
	}
}

// count counts one committed event, and an alarm when it is one.
func (m *Metrics) count(ev hub.Event) {
	m.events.WithLabelValues(ev.Kind.String()).Inc()
	if isAlarm(ev) {
		m.alarms.WithLabelValues(ev.Kind.String()).Inc()
	}
}

// isAlarm says whether ev is an alarm reported to the station: a new one (no restore) of an
// alarm kind. An entry-route alarm is logged twice, in its local warning (not reported)
// and once the warning ends (reported); it is one alarm.
func isAlarm(ev hub.Event) bool {
	if ev.Restore || !ev.Report {
		return false
	}
	for _, k := range alarmKinds {
		if ev.Kind == k {
			return true
		}
	}
	return false
}

// Registry returns the metrics' own registry.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in Prometheus's text format. Protect it: the web UI serves it
// to admins only.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
