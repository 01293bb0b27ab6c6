package uplink

import (
	"bufio"
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
)

// percentile returns the p-th percentile (0–100) of sorted durations, in milliseconds.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return float64(sorted[i]) / float64(time.Millisecond)
}

func reportLatency(b *testing.B, prefix string, d []time.Duration) {
	slices.Sort(d)
	b.ReportMetric(percentile(d, 50), prefix+"p50-ms")
	b.ReportMetric(percentile(d, 99), prefix+"p99-ms")
}

// BenchmarkUplink_AlarmToACK measures an alarm from the hub's input to the station's ACK
// arriving at the uplink: durable commit, hub publish, uplink wake, log read, DC-09
// exchange over loopback. It also reports the input's durable commit alone (commit-: the
// hub's Do until it returns), the DC-09 round trip alone (rtt-) and, for comparison, a raw
// socket round trip of the same frame to the same station (raw-).
func BenchmarkUplink_AlarmToACK(b *testing.B) {
	for _, tc := range []struct {
		name, network string
		key           []byte
	}{
		{"tcp", "tcp", nil},
		{"tcp AES-128", "tcp", []byte("0123456789abcdef")},
		{"udp", "udp", nil},
	} {
		b.Run(tc.name, func(b *testing.B) {
			st := startStation(b, "primary", tc.network, tc.key, nil)
			h, _ := startHub(b, hubtest.StorePath(b))
			cfg := oneReceiver(st, nil)
			cfg.Receivers[0].Primary.PollInterval = hub.Duration(time.Hour) // no polls in the way
			u, _ := startUplink(b, cfg, h)
			ctx := context.Background()
			press := func(active bool) []hub.Event {
				res := h.Do(ctx, hub.Input{Kind: hub.InReport, Device: "panic_button", Signal: hub.SignalPanic, Active: active})
				if res.Err != nil {
					b.Fatal(res.Err)
				}
				return res.Events
			}
			var total, rtt, commit []time.Duration
			for b.Loop() {
				start := time.Now()
				events := press(true)
				commit = append(commit, time.Since(start))
				var seq uint64
				for _, ev := range events {
					if ev.Kind == hub.KindPanic && ev.Report {
						seq = ev.Seq
					}
				}
				if seq == 0 {
					b.Fatalf("panic button: no alarm reported in %v", events)
				}
				info, err := u.AwaitAck(ctx, seq)
				if err != nil {
					b.Fatal(err)
				}
				total = append(total, info.At.Sub(start))
				rtt = append(rtt, info.RTT)
				b.StopTimer()
				press(false)
				b.StartTimer()
			}
			reportLatency(b, "", total)
			reportLatency(b, "rtt-", rtt)
			reportLatency(b, "commit-", commit)
			if tc.network == "tcp" && tc.key == nil {
				reportLatency(b, "raw-", rawRoundTrips(b, st.addr, 1000, 0))
				reportLatency(b, "raw-idle-", rawRoundTrips(b, st.addr, 300, time.Millisecond))
			}
		})
	}
}

// rawRoundTrips writes a ready-made Contact ID frame to the station over one TCP
// connection and reads its ACK, n times, pausing between round trips: the floor under the
// uplink's round trip. Back to back (pause 0) both ends stay hot; after a pause, as an
// alarm finds them, the threads have gone to sleep and must be woken (raw-idle-).
func rawRoundTrips(b *testing.B, addr string, n int, pause time.Duration) []time.Duration {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	out := make([]time.Duration, 0, n)
	for i := range n {
		if pause > 0 {
			time.Sleep(pause)
		}
		frame := stFrame(`"ADM-CID"` + seq4(i%9999+1) + `L0#1234[#1234|1120 01 008]_` + time.Now().UTC().Format(stTimeLayout))
		start := time.Now()
		if _, err := c.Write(frame); err != nil {
			b.Fatal(err)
		}
		if _, err := br.ReadBytes('\r'); err != nil {
			b.Fatal(err)
		}
		out = append(out, time.Since(start))
	}
	return out
}

func seq4(n int) string {
	s := []byte("0000")
	for i := 3; i >= 0 && n > 0; i-- {
		s[i] = byte('0' + n%10)
		n /= 10
	}
	return string(s)
}

// BenchmarkUplink_BacklogDrain measures how fast a backlog drains once the station can be
// reached again: each round logs 500 reportable events while the uplink is down, then
// times the uplink from start until the station has acknowledged the last one, and checks
// that everything arrived in order.
func BenchmarkUplink_BacklogDrain(b *testing.B) {
	const backlog = 500
	for _, network := range []string{"tcp", "udp"} {
		b.Run(network, func(b *testing.B) {
			st := startStation(b, "primary", network, nil, nil)
			h, _ := startHub(b, hubtest.StorePath(b))
			cfg := oneReceiver(st, nil)
			cfg.Receivers[0].Primary.PollInterval = hub.Duration(time.Hour)
			_, stop := startUplink(b, cfg, h)
			stop()
			ctx := context.Background()
			low := false
			var elapsed time.Duration
			drained := 0
			for b.Loop() {
				b.StopTimer()
				from, _ := h.Store().LastSeq()
				mark := len(st.log.events())
				for range backlog {
					low = !low
					if err := h.Submit(ctx, hub.Input{Kind: hub.InReport, Device: "garage_motion", Signal: hub.SignalBatteryLow, Active: low}); err != nil {
						b.Fatal(err)
					}
				}
				var last uint64
				hubtest.Eventually(b, "backlog logged", func() bool {
					last, _ = h.Store().LastSeq()
					return last >= from+backlog // one event per toggle
				})
				b.StartTimer()
				t0 := time.Now()
				u, stop := startUplink(b, cfg, h)
				if _, err := u.AwaitAck(ctx, last); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(t0)
				drained += backlog
				b.StopTimer()
				stop()
				checkRound(b, h, st.log.events()[mark:], from, last)
				b.StartTimer()
			}
			b.ReportMetric(float64(drained)/elapsed.Seconds(), "events/s")
		})
	}
}

// checkRound checks that the station's acknowledgements of one round hold every reportable
// event after from up to last, first arrivals in order, with the right content. DC-09
// sequence numbers wrap at 9999, so events are matched within the round.
func checkRound(b *testing.B, h *hub.Hub, got []accepted, from, last uint64) {
	events, err := h.Store().Events(from, 0)
	if err != nil {
		b.Fatal(err)
	}
	var want []hub.Event
	for _, ev := range events {
		if ev.Report && ev.ContactID != 0 && ev.Seq <= last {
			want = append(want, ev)
		}
	}
	i := 0
	for _, a := range got {
		if i < len(want) && a.msg.seq == dc09Seq(want[i].Seq) {
			if w := wantData(want[i], "1234", FormatCID); a.msg.data != w {
				b.Fatalf("event %d arrived as %q, want %q", want[i].Seq, a.msg.data, w)
			}
			i++
		}
	}
	if i != len(want) {
		b.Fatalf("%d of %d events arrived in order; next missing: %d", i, len(want), want[i].Seq)
	}
}

// BenchmarkUplink_AlarmAfterOutage measures DESIGN §6's "station back after an outage → a
// new alarm ACKed". Each round closes the station, logs a backlog of 10 reportable events
// that delivery fails to send, reopens the station and raises a panic alarm, and times
// the alarm from the hub's input to its ACK; the backlog must arrive first, in order.
//
// The outage is shortened, not the back-off: the path's retry back-off is set to 60 s from
// the first failure, so after a failed round delivery and the path's poller wait 60 s, as
// they do after a real outage of a minute or more (the back-off's cap). The alarm comes
// well inside that wait.
func BenchmarkUplink_AlarmAfterOutage(b *testing.B) {
	const backlog = 10
	st := startStation(b, "primary", "tcp", nil, nil)
	h, _ := startHub(b, hubtest.StorePath(b))
	cfg := oneReceiver(st, nil)
	cfg.Receivers[0].Primary.PollInterval = hub.Duration(time.Hour)
	cfg.Receivers[0].Primary.RetryBackoff = hub.Duration(MaxRetryBackoff)
	u, _ := startUplink(b, cfg, h)
	ctx := context.Background()
	low := false
	var took []time.Duration
	for b.Loop() {
		b.StopTimer()
		from, _ := h.Store().LastSeq()
		mark := len(st.log.events())
		st.close()
		down := time.Now()
		for range backlog {
			low = !low
			do(b, h, hub.Input{Kind: hub.InReport, Device: "garage_motion", Signal: hub.SignalBatteryLow, Active: low})
		}
		hubtest.Eventually(b, "delivery to fail", func() bool { return u.Status()[0].LastErrorAt.After(down) })
		st.reopen()
		b.StartTimer()
		t0 := time.Now()
		ev := panicAlarm(b, h)
		if _, err := u.AwaitAck(ctx, ev.Seq); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(t0))
		b.StopTimer()
		checkRound(b, h, st.log.events()[mark:], from, ev.Seq)
		b.StartTimer()
	}
	reportLatency(b, "", took)
}
