package doctor

import (
	"fmt"
	"time"
)

// ClockState is what the kernel says of its clock discipline (adjtimex(2)).
type ClockState struct {
	// Synced is false while the kernel flags the clock unsynchronised (STA_UNSYNC): no
	// NTP daemon has disciplined it lately.
	Synced bool
	// MaxError and EstError are the kernel's maximum and estimated error of the time;
	// Offset is the correction still being applied (how far off the clock was found).
	MaxError, EstError, Offset time.Duration
	// Source says where this came from: "adjtimex" or "timedatectl".
	Source string
}

// maxClockError is the error past which a synchronised clock is still a warning: a DC-09
// receiver refuses (NAKs) messages whose time is off by more than 20–40 s, and the
// history should be right to the second.
const maxClockError = time.Second

func (d *doctor) clock() Check {
	c := Check{What: "clock"}
	st, err := d.cfg.Clock()
	if err != nil {
		c.Status, c.Detail = Warn, "cannot tell whether it is synchronised: "+err.Error()
		c.Fix = "check that NTP runs: timedatectl status"
		return c
	}
	if !st.Synced {
		c.Status, c.Detail = Fail, "not synchronised"
		if st.Source == "adjtimex" {
			c.Detail += fmt.Sprintf(" (the kernel flags it unsynchronised; maximum error %s)", round(st.MaxError))
		}
		c.Fix = "turn on NTP (timedatectl set-ntp true) and check the network: a gateway without a battery-backed clock starts wrong after a power cut, and the station refuses messages more than 20–40 s off"
		return c
	}
	c.Detail = "synchronised"
	if st.Source == "adjtimex" {
		c.Detail += fmt.Sprintf(" (off by %s, estimated error %s, at most %s)", round(st.Offset.Abs()), round(st.EstError), round(st.MaxError))
		if st.MaxError > maxClockError {
			c.Status = Warn
			c.Fix = "the time may be off by more than a second: check the NTP servers (timedatectl timesync-status)"
		}
	}
	return c
}

// round shortens a duration for a person.
func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// offByStation puts what a station receiver said of our clock on the clock's line: its
// refusal of our time (NAK) means the clock is off by more than the receiver's window,
// whatever the kernel believes.
func (d *doctor) offByStation(c Check) Check {
	c.Status = Fail
	c.Detail += fmt.Sprintf("; station receiver %s says it is %s", d.stationName, aheadBehind(-d.stationClock))
	c.Fix = "set the time right and turn on NTP (timedatectl set-ntp true): the station refuses messages more than 20–40 s off"
	return c
}

// aheadBehind says how far a clock is ahead of (positive) or behind (negative) another.
func aheadBehind(d time.Duration) string {
	if d < 0 {
		return round(-d).String() + " behind"
	}
	return round(d).String() + " ahead"
}
