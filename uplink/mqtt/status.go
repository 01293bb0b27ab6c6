package mqtt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"vakt/hub"
)

// StatusMessage is the retained payload of <prefix>/<hub_id>/status.
type StatusMessage struct {
	// State is "online", or "offline" in the last will and after a clean stop (which
	// carry nothing else).
	State  string        `json:"state"`
	Areas  []AreaStatus  `json:"areas,omitempty"`
	Faults *FaultsStatus `json:"faults,omitempty"`
}

// AreaStatus is one area in the status.
type AreaStatus struct {
	Number int    `json:"number"`
	Name   string `json:"name,omitempty"`
	// Mode is the live mode (arming, pending and triggered included); Set is the mode a
	// user chose.
	Mode  hub.Mode         `json:"mode"`
	Set   hub.Mode         `json:"set"`
	Siren hub.SirenPattern `json:"siren"`
	// AlarmMemory is set while an alarm waits to be acknowledged.
	AlarmMemory bool `json:"alarm_memory"`
}

// FaultsStatus is the hub's faults in the status.
type FaultsStatus struct {
	MainsLost      bool     `json:"mains_lost"`
	HubBatteryLow  bool     `json:"hub_battery_low"`
	HubTamper      bool     `json:"hub_tamper"`
	SirenFault     bool     `json:"siren_fault"`
	DiskFault      bool     `json:"disk_fault"`
	UplinkPaths    []string `json:"uplink_paths"`
	MissingDevices []string `json:"missing_devices"`
}

// statusOf builds the status from a snapshot: a pure function of it.
func statusOf(snap *hub.Snapshot) StatusMessage {
	st := snap.State
	m := StatusMessage{State: "online", Faults: &FaultsStatus{
		MainsLost:      st.Mains.Lost,
		HubBatteryLow:  st.HubBatteryLow,
		HubTamper:      st.HubTamper,
		SirenFault:     st.SirenFault,
		DiskFault:      st.DiskFault,
		UplinkPaths:    append([]string{}, st.UplinkFaults...),
		MissingDevices: []string{},
	}}
	slices.Sort(m.Faults.UplinkPaths)
	for _, d := range st.Devices {
		if d.Missing {
			m.Faults.MissingDevices = append(m.Faults.MissingDevices, d.ID)
		}
	}
	slices.Sort(m.Faults.MissingDevices)
	for _, a := range st.Areas {
		as := AreaStatus{Number: a.Number, Mode: a.Mode, Set: a.Set, Siren: a.Siren,
			AlarmMemory: len(a.Memory)+len(a.FireMemory) > 0}
		if snap.Installation != nil {
			for _, ia := range snap.Installation.Areas {
				if ia.Number == a.Number {
					as.Name = ia.Name
				}
			}
		}
		m.Areas = append(m.Areas, as)
	}
	return m
}

// publishStatus publishes the retained status if it changed since the broker last got it.
func (u *Uplink) publishStatus(ctx context.Context) error {
	lost, err := u.conn()
	if err != nil {
		return err
	}
	payload, err := json.Marshal(statusOf(u.hub.Snapshot()))
	if err != nil {
		return fmt.Errorf("encode status: %w", err)
	}
	u.mu.Lock()
	same := bytes.Equal(payload, u.lastStatus)
	u.mu.Unlock()
	if same {
		return nil
	}
	if err := waitToken(u.client.Publish(u.topic.status, 1, true, payload), lost, publishTimeout); err != nil {
		if errors.Is(err, errOffline) || ctx.Err() != nil {
			return err
		}
		return fmt.Errorf("publish status: %w", err)
	}
	u.mu.Lock()
	if u.lost == lost { // not reconnected meanwhile (which asks for a new publish)
		u.lastStatus = payload
	}
	u.mu.Unlock()
	return nil
}
