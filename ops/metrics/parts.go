package metrics

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"
)

// parts collects, at each scrape, what the parts' status methods say now.
type parts struct{ m *Metrics }

var (
	descQueueDepth = prometheus.NewDesc("vakt_uplink_queue_depth",
		"Events logged behind a station receiver's cursor (not yet delivered or passed over).", []string{"receiver"}, nil)
	descDelivered = prometheus.NewDesc("vakt_uplink_delivered_total",
		"Events a station receiver acknowledged since start.", []string{"receiver"}, nil)
	descLastAck = prometheus.NewDesc("vakt_uplink_last_ack_age_seconds",
		"Time since the receiver last acknowledged anything (an event or a NULL poll) over the path; absent before the first.", []string{"receiver", "path"}, nil)
	descPathUp = prometheus.NewDesc("vakt_uplink_path_up",
		"1 while the path's last exchange was answered and it is not in fault, else 0.", []string{"receiver", "path"}, nil)
	descLastSeen = prometheus.NewDesc("vakt_device_last_seen_age_seconds",
		"Time since a device of the installation was last heard; absent before it first is.", []string{"device"}, nil)
	descMalformed = prometheus.NewDesc("vakt_malformed_messages_total",
		"Payloads a driver could not read since start, by driver.", []string{"driver"}, nil)
	descBrokerClients = prometheus.NewDesc("vakt_broker_clients",
		"Clients logged in to the embedded MQTT broker now.", nil, nil)
	descStoreBytes = prometheus.NewDesc("vakt_store_written_bytes_total",
		"Bytes of pages the store wrote to its file since start (each commit also writes one meta page, counted in vakt_store_writes_total).", nil, nil)
	descStoreWrites = prometheus.NewDesc("vakt_store_writes_total",
		"Write calls the store made to its file since start, meta pages included.", nil, nil)
	descNotified = prometheus.NewDesc("vakt_notify_deliveries_total",
		"Notifications delivered since start, by recipient and channel.", []string{"user", "channel"}, nil)
	descNotifyFailed = prometheus.NewDesc("vakt_notify_failures_total",
		"Notification sends that failed since start, by recipient and channel.", []string{"user", "channel"}, nil)
	descLastSeq = prometheus.NewDesc("vakt_event_log_last_seq",
		"The sequence number of the last event committed to the log.", nil, nil)
)

// Describe sends every family the parts give.
func (c *parts) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueueDepth, descDelivered, descLastAck, descPathUp, descLastSeen,
		descMalformed, descBrokerClients, descStoreBytes, descStoreWrites, descNotified, descNotifyFailed, descLastSeq} {
		ch <- d
	}
}

// Collect reads the parts now: a scrape sees the state at its own moment.
func (c *parts) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	p := c.m.parts
	c.m.mu.Unlock()
	if p.Hub == nil {
		return // not attached yet
	}
	now := c.m.now()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	snap := p.Hub.Snapshot()
	if next := snap.State.NextSeq; next > 0 {
		gauge(descLastSeq, float64(next-1))
	}
	w := p.Hub.Store().Writes()
	counter(descStoreBytes, float64(w.Bytes))
	counter(descStoreWrites, float64(w.Writes))
	if p.Uplink != nil {
		for _, r := range p.Uplink.Status() {
			gauge(descQueueDepth, float64(r.QueueDepth), r.Name)
			counter(descDelivered, float64(r.Delivered), r.Name)
			for _, ps := range r.Paths {
				last := ps.LastAck
				if ps.LastPoll.After(last) {
					last = ps.LastPoll
				}
				if !last.IsZero() {
					gauge(descLastAck, max(now.Sub(last).Seconds(), 0), r.Name, ps.Name)
				}
				up := 0.0
				if ps.OK && !ps.Fault {
					up = 1
				}
				gauge(descPathUp, up, r.Name, ps.Name)
			}
		}
	}
	if p.Devices != nil {
		health := p.Devices.Health()
		ids := make([]string, 0, len(health))
		for id := range health {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			if seen := health[id].LastSeen; !seen.IsZero() {
				gauge(descLastSeen, max(now.Sub(seen).Seconds(), 0), id)
			}
		}
		for driver, n := range p.Devices.MalformedByDriver() {
			counter(descMalformed, float64(n), driver)
		}
	}
	if p.Broker != nil {
		gauge(descBrokerClients, float64(p.Broker.Clients()))
	}
	if p.Notifier != nil {
		for _, s := range p.Notifier.Status().Channels {
			counter(descNotified, float64(s.Delivered), s.User, s.Channel)
			counter(descNotifyFailed, float64(s.Failed), s.User, s.Channel)
		}
	}
}
