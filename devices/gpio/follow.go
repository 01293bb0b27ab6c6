package gpio

import (
	"context"

	"vakt/hub"
)

// Follow drives the box's siren relay, strobe and status LED from the hub's decided outputs
// (hub.State.Outputs: the box's one siren plays the most urgent pattern of every area) until
// ctx ends or the subscription closes. sub should be an output subscription
// (hub.Hub.SubscribeOutputs), so that the relay follows the hub's decision at once, in
// parallel with the commit, never waiting for the disk.
func (d *Driver) Follow(ctx context.Context, sub *hub.Subscription) {
	var shown *hub.BoxOutputs
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
		o := u.Outputs.Box
		if shown != nil && *shown == o {
			continue
		}
		shown = &o
		if err := d.SetOutputs(o); err != nil {
			d.log.Error("box outputs", "error", err)
		}
	}
}
