package main

import (
	"vakt/devices"
	"vakt/devices/broker"
	"vakt/ops/metrics"
	"vakt/ui/notify"
	"vakt/uplink"
)

// metricsParts is what ops/metrics reads at each scrape besides the hub it watches. A part
// vakt runs without (no station, an external broker, no recipients) stays a nil interface,
// never an interface holding a nil pointer.
func metricsParts(mgr *devices.Manager, up *uplink.Uplink, nt *notify.Notifier, b *broker.Broker) metrics.Parts {
	p := metrics.Parts{Devices: mgr}
	if up != nil {
		p.Uplink = up
	}
	if nt != nil {
		p.Notifier = nt
	}
	if b != nil {
		p.Broker = b
	}
	return p
}
